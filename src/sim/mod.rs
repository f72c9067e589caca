//! The simulated plant.
