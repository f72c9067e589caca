//! The physics of the simulated boiler house: pure, deterministic, no I/O, time injected.
//!
//! ```text
//!   pump 1 ──► [ tank 1 ] ──valve──► [ tank 2 ] ──feed──► boiler ──► header (pressure, temperature)
//!                              pump 2 ──┘
//! ```
//!
//! - Tank 1 is filled by pump 1 and drains by gravity (flow ∝ √level) into tank 2 while the outlet
//!   valve is open. Tank 2 is also filled by pump 2 and feeds the boiler; the feed flow follows the
//!   steam demand (the demand setpoint times a slow ±20 % swing over two minutes) and √level.
//!   Levels are clamped to 0..=100 %: a full tank spills, an empty one gives nothing.
//! - A pump runs [`PUMP_START_DELAY`] after its run command was set, unless it is tripped, faulted
//!   or the e-stop is pressed. Commanded but still not running after [`PUMP_FAULT_TIMEOUT`] →
//!   pump fault, latched until a fault reset.
//! - With the burner on, header pressure and outlet temperature follow their setpoints with a
//!   first-order lag ([`PRESSURE_TAU`], [`TEMPERATURE_TAU`]); with it off they decay to 0 bar and
//!   [`AMBIENT_C`]. The measured values carry small noise; the true values do not.
//! - The e-stop stops both pumps and the burner and drops their run commands, as a hard-wired
//!   e-stop circuit would: after releasing it the operator restarts them.
//!
//! The same seed and the same sequence of `step` durations give exactly the same plant.

use std::time::Duration;

/// Time between a pump's run command and its "running" feedback.
pub const PUMP_START_DELAY: Duration = Duration::from_secs(2);
/// A pump commanded for this long without running is faulted.
pub const PUMP_FAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time constant of the header pressure lag.
pub const PRESSURE_TAU: Duration = Duration::from_secs(10);
/// Time constant of the outlet temperature lag.
pub const TEMPERATURE_TAU: Duration = Duration::from_secs(20);
/// Temperature the boiler cools to with the burner off (degC).
pub const AMBIENT_C: f64 = 20.0;
/// Valid pressure setpoints (bar).
pub const PRESSURE_SP_RANGE: (f64, f64) = (0.0, 16.0);
/// Valid temperature setpoints (degC).
pub const TEMPERATURE_SP_RANGE: (f64, f64) = (0.0, 250.0);
/// Valid steam demand setpoints (%).
pub const DEMAND_MAX: u16 = 150;
/// Plant name, as the device reports it.
pub const PLANT_NAME: &str = "BOILER HOUSE SIM";

/// Level (%) at or above which a tank is "high".
pub const LEVEL_HIGH: f64 = 90.0;
/// Level (%) at or below which a tank is "low".
pub const LEVEL_LOW: f64 = 10.0;
/// Measured header pressure above which the pressure-high fault is set (bar).
pub const PRESSURE_HIGH: f64 = 12.0;
/// Measured outlet temperature above which the temperature-high fault is set (degC).
pub const TEMPERATURE_HIGH: f64 = 220.0;

/// Bits of [`Plant::fault_word`].
pub mod fault {
    pub const TANK1_HIGH: u16 = 1 << 0;
    pub const TANK2_LOW: u16 = 1 << 1;
    pub const TANK2_HIGH: u16 = 1 << 2;
    pub const PUMP1_FAULT: u16 = 1 << 3;
    pub const PUMP2_FAULT: u16 = 1 << 4;
    pub const ESTOP: u16 = 1 << 5;
    pub const PRESSURE_HIGH: u16 = 1 << 6;
    pub const TEMPERATURE_HIGH: u16 = 1 << 7;
    pub const TANK1_LOW: u16 = 1 << 8;
}

/// Bits of [`Plant::status_word`].
pub mod status {
    pub const PUMP1_RUNNING: u16 = 1 << 0;
    pub const PUMP2_RUNNING: u16 = 1 << 1;
    pub const BURNER_ON: u16 = 1 << 2;
    pub const VALVE_OPEN: u16 = 1 << 3;
    pub const ESTOP: u16 = 1 << 4;
}

/// Tank volume (m³).
const TANK_CAPACITY: f64 = 5.0;
/// Pump flows (m³/s) while running.
const PUMP_FLOW: [f64; 2] = [0.05, 0.03];
/// Gravity outflow of tank 1 at 100 % level with the valve open (m³/s).
const K_TANK1: f64 = 0.06;
/// Boiler feed out of tank 2 at 100 % level and 100 % demand (m³/s).
const K_TANK2: f64 = 0.07;
/// Period of the demand swing.
const DEMAND_PERIOD_S: f64 = 120.0;
/// Physics never integrates more than this at once, whatever `dt` the caller passes.
const MAX_SUBSTEP: Duration = Duration::from_millis(100);
/// Half-widths of the measurement noise.
const PRESSURE_NOISE: f64 = 0.02;
const TEMPERATURE_NOISE: f64 = 0.1;
const LEVEL_NOISE: f64 = 0.05;

/// What an operator (or a test) sets. The Modbus register map writes these.
#[derive(Clone, Debug, PartialEq)]
pub struct Commands {
    /// Run commands of pump 1 and pump 2.
    pub pump_run: [bool; 2],
    /// Tank 1 outlet valve (to tank 2).
    pub valve_open: bool,
    /// Boiler burner run command.
    pub burner_run: bool,
    /// Header pressure setpoint (bar), within [`PRESSURE_SP_RANGE`].
    pub pressure_sp: f64,
    /// Outlet temperature setpoint (degC), within [`TEMPERATURE_SP_RANGE`].
    pub temperature_sp: f64,
    /// Steam demand (%), 0..=[`DEMAND_MAX`].
    pub demand_pct: u16,
    /// The e-stop push button (a test hook: on a real plant it is wired, not written).
    pub estop: bool,
    /// Simulated mechanical trip of each pump: it will not start (a test hook).
    pub pump_trip: [bool; 2],
}

/// A small xorshift64* generator: deterministic, good enough for measurement noise.
#[derive(Clone, Debug, PartialEq)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        // Spread the seed (splitmix64) so that 0 and small seeds are fine too; never all zero.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Rng(if z == 0 { 0x2545_F491_4F6C_DD1D } else { z })
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [-1, 1).
    fn symmetric(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Pump {
    running: bool,
    /// How long the run command has been on without the pump running.
    starting_for: Duration,
    fault: bool,
    starts: u16,
}

impl Pump {
    fn new(running: bool) -> Self {
        Pump { running, starting_for: Duration::ZERO, fault: false, starts: 0 }
    }

    fn step(&mut self, dt: Duration, commanded: bool, may_run: bool) {
        if !commanded || !may_run || self.fault {
            self.running = false;
        }
        if !commanded {
            self.starting_for = Duration::ZERO;
            return;
        }
        if self.running {
            return;
        }
        self.starting_for += dt;
        if !may_run || self.fault {
            if self.starting_for >= PUMP_FAULT_TIMEOUT {
                self.fault = true;
            }
        } else if self.starting_for >= PUMP_START_DELAY {
            self.running = true;
            self.starting_for = Duration::ZERO;
            self.starts = self.starts.wrapping_add(1);
        }
    }
}

/// The simulated plant.
#[derive(Clone, Debug, PartialEq)]
pub struct Plant {
    /// Inputs; change them freely between steps.
    pub cmd: Commands,
    rng: Rng,
    elapsed: Duration,
    counter: u16,
    /// Tank levels (%), true values.
    level: [f64; 2],
    pump: [Pump; 2],
    /// True header pressure (bar) and outlet temperature (degC).
    pressure_true: f64,
    temperature_true: f64,
    /// Measured values (true value + noise), refreshed every step.
    pressure_meas: f64,
    temperature_meas: f64,
    level_meas: [f64; 2],
    /// Boiler feed flow out of tank 2 (m³/s).
    feed_flow: f64,
    /// Totalised boiler feed (litres).
    total_litres: f64,
}

impl Plant {
    /// A cold plant: pump 1 running, valve open, burner on, pressure and temperature at ambient
    /// and rising towards their setpoints (8 bar, 175 degC).
    pub fn new(seed: u64) -> Self {
        let level = [60.0, 50.0];
        let mut pump1 = Pump::new(true);
        pump1.starts = 1;
        Plant {
            cmd: Commands {
                pump_run: [true, false],
                valve_open: true,
                burner_run: true,
                pressure_sp: 8.0,
                temperature_sp: 175.0,
                demand_pct: 100,
                estop: false,
                pump_trip: [false, false],
            },
            rng: Rng::new(seed),
            elapsed: Duration::ZERO,
            counter: 0,
            level,
            pump: [pump1, Pump::new(false)],
            pressure_true: 0.0,
            temperature_true: AMBIENT_C,
            pressure_meas: 0.0,
            temperature_meas: AMBIENT_C,
            level_meas: level,
            feed_flow: 0.0,
            total_litres: 0.0,
        }
    }

    /// Advances the plant by `dt` (integrated in substeps of at most 100 ms) and increments the
    /// step counter once.
    pub fn step(&mut self, dt: Duration) {
        if self.cmd.estop {
            self.cmd.pump_run = [false, false];
            self.cmd.burner_run = false;
        }
        let mut left = dt;
        while !left.is_zero() {
            let h = left.min(MAX_SUBSTEP);
            self.integrate(h);
            left -= h;
        }
        self.counter = self.counter.wrapping_add(1);
        self.measure();
    }

    fn integrate(&mut self, dt: Duration) {
        let h = dt.as_secs_f64();
        self.elapsed += dt;
        for i in 0..2 {
            let may_run = !self.cmd.estop && !self.cmd.pump_trip[i];
            self.pump[i].step(dt, self.cmd.pump_run[i], may_run);
        }

        // Tanks: volumes in m³, flows in m³/s, each outflow limited to what the tank holds.
        let mut v = self.level.map(|l| l / 100.0 * TANK_CAPACITY);
        let inflow = |i: usize, p: &[Pump; 2]| if p[i].running { PUMP_FLOW[i] } else { 0.0 };
        let q12 = if self.cmd.valve_open { K_TANK1 * (self.level[0] / 100.0).max(0.0).sqrt() } else { 0.0 };
        let q12 = q12.min(v[0] / h + inflow(0, &self.pump));
        let swing = 1.0 + 0.2 * (std::f64::consts::TAU * self.elapsed.as_secs_f64() / DEMAND_PERIOD_S).sin();
        let demand = f64::from(self.cmd.demand_pct) / 100.0 * swing;
        let q_feed =
            (K_TANK2 * demand * (self.level[1] / 100.0).max(0.0).sqrt()).min(v[1] / h + q12 + inflow(1, &self.pump));
        v[0] += (inflow(0, &self.pump) - q12) * h;
        v[1] += (q12 + inflow(1, &self.pump) - q_feed) * h;
        self.level = v.map(|v| (v / TANK_CAPACITY * 100.0).clamp(0.0, 100.0));
        self.feed_flow = q_feed;
        self.total_litres += q_feed * 1000.0 * h;

        // Boiler: first-order lags towards the setpoints (or ambient), exact for any step.
        let burning = self.burner_on();
        let (p_target, t_target) =
            if burning { (self.cmd.pressure_sp, self.cmd.temperature_sp) } else { (0.0, AMBIENT_C) };
        self.pressure_true += (p_target - self.pressure_true) * (1.0 - (-h / PRESSURE_TAU.as_secs_f64()).exp());
        self.temperature_true +=
            (t_target - self.temperature_true) * (1.0 - (-h / TEMPERATURE_TAU.as_secs_f64()).exp());
    }

    fn measure(&mut self) {
        self.pressure_meas = (self.pressure_true + PRESSURE_NOISE * self.rng.symmetric()).max(0.0);
        self.temperature_meas = self.temperature_true + TEMPERATURE_NOISE * self.rng.symmetric();
        for i in 0..2 {
            self.level_meas[i] = (self.level[i] + LEVEL_NOISE * self.rng.symmetric()).clamp(0.0, 100.0);
        }
    }

    /// Clears latched pump faults (the fault reset push button).
    pub fn reset_faults(&mut self) {
        for p in &mut self.pump {
            p.fault = false;
            p.starting_for = Duration::ZERO;
        }
    }

    /// Simulated time since the plant was created.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Incremented once per [`Plant::step`], wrapping at 65535.
    pub fn counter(&self) -> u16 {
        self.counter
    }

    /// Measured tank level (%), 0..=100. `tank` is 0 or 1.
    pub fn level(&self, tank: usize) -> f64 {
        self.level_meas[tank]
    }

    /// Running feedback of pump 0 or 1.
    pub fn pump_running(&self, pump: usize) -> bool {
        self.pump[pump].running
    }

    /// Latched fault of pump 0 or 1.
    pub fn pump_fault(&self, pump: usize) -> bool {
        self.pump[pump].fault
    }

    /// Number of starts of pump 0 or 1 (wrapping).
    pub fn pump_starts(&self, pump: usize) -> u16 {
        self.pump[pump].starts
    }

    /// Burner flame: commanded and no e-stop.
    pub fn burner_on(&self) -> bool {
        self.cmd.burner_run && !self.cmd.estop
    }

    /// Measured header pressure (bar).
    pub fn pressure(&self) -> f64 {
        self.pressure_meas
    }

    /// Measured outlet temperature (degC).
    pub fn temperature(&self) -> f64 {
        self.temperature_meas
    }

    /// Boiler feed flow (m³/h).
    pub fn feed_flow_m3h(&self) -> f64 {
        self.feed_flow * 3600.0
    }

    /// Totalised boiler feed (litres), growing; wraps at 2³² as a register value would.
    pub fn total_litres(&self) -> u32 {
        (self.total_litres as u64) as u32
    }

    /// Fault word: bits in [`fault`].
    pub fn fault_word(&self) -> u16 {
        let mut w = 0;
        let mut set = |cond: bool, bit: u16| {
            if cond {
                w |= bit;
            }
        };
        set(self.level(0) >= LEVEL_HIGH, fault::TANK1_HIGH);
        set(self.level(1) <= LEVEL_LOW, fault::TANK2_LOW);
        set(self.level(1) >= LEVEL_HIGH, fault::TANK2_HIGH);
        set(self.pump[0].fault, fault::PUMP1_FAULT);
        set(self.pump[1].fault, fault::PUMP2_FAULT);
        set(self.cmd.estop, fault::ESTOP);
        set(self.pressure() > PRESSURE_HIGH, fault::PRESSURE_HIGH);
        set(self.temperature() > TEMPERATURE_HIGH, fault::TEMPERATURE_HIGH);
        set(self.level(0) <= LEVEL_LOW, fault::TANK1_LOW);
        w
    }

    /// Status word: bits in [`status`].
    pub fn status_word(&self) -> u16 {
        let mut w = 0;
        if self.pump[0].running {
            w |= status::PUMP1_RUNNING;
        }
        if self.pump[1].running {
            w |= status::PUMP2_RUNNING;
        }
        if self.burner_on() {
            w |= status::BURNER_ON;
        }
        if self.cmd.valve_open {
            w |= status::VALVE_OPEN;
        }
        if self.cmd.estop {
            w |= status::ESTOP;
        }
        w
    }

    /// The plant's name, as reported in its string register.
    pub fn name(&self) -> &'static str {
        PLANT_NAME
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_millis(100);

    fn run(p: &mut Plant, d: Duration) {
        let n = d.as_millis() / TICK.as_millis();
        for _ in 0..n {
            p.step(TICK);
        }
    }

    #[test]
    fn lag_converges_to_setpoint() {
        let mut p = Plant::new(1);
        assert!(p.pressure() < 0.1, "starts cold");
        run(&mut p, PRESSURE_TAU);
        let one_tau = p.pressure();
        assert!((one_tau - 8.0 * (1.0 - (-1f64).exp())).abs() < 0.1, "63 % after one time constant, got {one_tau}");
        run(&mut p, Duration::from_secs(200));
        assert!((p.pressure() - 8.0).abs() <= PRESSURE_NOISE + 1e-9, "pressure {}", p.pressure());
        assert!((p.temperature() - 175.0).abs() <= TEMPERATURE_NOISE + 1e-6, "temperature {}", p.temperature());

        p.cmd.pressure_sp = 10.0;
        run(&mut p, Duration::from_secs(100));
        assert!((p.pressure() - 10.0).abs() <= PRESSURE_NOISE + 1e-9);

        p.cmd.burner_run = false;
        run(&mut p, Duration::from_secs(400));
        assert!(p.pressure() < 0.05 && (p.temperature() - AMBIENT_C).abs() < 0.2, "burner off cools down");
    }

    #[test]
    fn one_big_step_equals_many_small_ones_for_the_lag() {
        let mut a = Plant::new(3);
        let mut b = Plant::new(3);
        a.step(Duration::from_secs(10));
        run(&mut b, Duration::from_secs(10));
        assert!((a.pressure_true - b.pressure_true).abs() < 1e-9);
    }

    #[test]
    fn noise_is_small_and_present() {
        let mut p = Plant::new(9);
        run(&mut p, Duration::from_secs(300));
        let samples: Vec<f64> = (0..50)
            .map(|_| {
                p.step(TICK);
                p.pressure()
            })
            .collect();
        assert!(samples.iter().all(|s| (s - 8.0).abs() <= PRESSURE_NOISE + 1e-9));
        assert!(samples.windows(2).any(|w| w[0] != w[1]), "noise makes the value move");
    }

    #[test]
    fn tank_levels_stay_within_0_and_100() {
        // Fill: both pumps on, valve closed, no demand.
        let mut p = Plant::new(2);
        p.cmd.pump_run = [true, true];
        p.cmd.valve_open = false;
        p.cmd.demand_pct = 0;
        for _ in 0..3000 {
            p.step(TICK);
            assert!((0.0..=100.0).contains(&p.level(0)) && (0.0..=100.0).contains(&p.level(1)));
        }
        assert_eq!(p.level[0], 100.0, "tank 1 full and spilling");
        assert_ne!(p.fault_word() & fault::TANK1_HIGH, 0);

        // Drain: pumps off, valve open, high demand; also with huge steps.
        p.cmd.pump_run = [false, false];
        p.cmd.valve_open = true;
        p.cmd.demand_pct = DEMAND_MAX;
        for _ in 0..200 {
            p.step(Duration::from_secs(60));
            assert!((0.0..=100.0).contains(&p.level(0)) && (0.0..=100.0).contains(&p.level(1)));
        }
        assert!(p.level[0] < 1.0 && p.level[1] < 1.0, "drained: {:?}", p.level);
        assert_ne!(p.fault_word() & fault::TANK2_LOW, 0);
        assert_ne!(p.fault_word() & fault::TANK1_LOW, 0);
    }

    #[test]
    fn default_plant_settles_without_faults() {
        let mut p = Plant::new(5);
        run(&mut p, Duration::from_secs(900));
        assert_eq!(p.fault_word(), 0, "levels {:?}", p.level);
        assert!(p.total_litres() > 0 && p.feed_flow_m3h() > 0.0);
    }

    #[test]
    fn pump_runs_after_delay_and_stops_at_once() {
        let mut p = Plant::new(1);
        p.cmd.pump_run[1] = true;
        run(&mut p, PUMP_START_DELAY - TICK);
        assert!(!p.pump_running(1), "not yet");
        p.step(TICK);
        assert!(p.pump_running(1));
        assert_eq!(p.pump_starts(1), 1);
        assert_ne!(p.status_word() & status::PUMP2_RUNNING, 0);
        p.cmd.pump_run[1] = false;
        p.step(TICK);
        assert!(!p.pump_running(1));
    }

    #[test]
    fn running_pump_adds_inflow() {
        let mut off = Plant::new(1);
        off.cmd.pump_run = [false, false];
        off.step(TICK);
        let mut on = off.clone();
        on.cmd.pump_run[0] = true;
        run(&mut off, Duration::from_secs(20));
        run(&mut on, Duration::from_secs(20));
        assert!(on.level[0] > off.level[0] + 5.0, "{} vs {}", on.level[0], off.level[0]);
    }

    #[test]
    fn tripped_pump_faults_until_reset() {
        let mut p = Plant::new(1);
        p.cmd.pump_trip[1] = true;
        p.cmd.pump_run[1] = true;
        run(&mut p, PUMP_FAULT_TIMEOUT - TICK);
        assert!(!p.pump_running(1) && !p.pump_fault(1));
        p.step(TICK);
        assert!(p.pump_fault(1));
        assert_ne!(p.fault_word() & fault::PUMP2_FAULT, 0);
        p.cmd.pump_trip[1] = false;
        run(&mut p, Duration::from_secs(10));
        assert!(!p.pump_running(1), "a latched fault keeps it stopped");
        p.reset_faults();
        run(&mut p, PUMP_START_DELAY);
        assert!(p.pump_running(1) && p.fault_word() & fault::PUMP2_FAULT == 0);
    }

    #[test]
    fn estop_stops_everything_and_drops_commands() {
        let mut p = Plant::new(1);
        assert!(p.pump_running(0) && p.burner_on());
        p.cmd.estop = true;
        p.step(TICK);
        assert!(!p.pump_running(0) && !p.burner_on());
        assert!(!p.cmd.pump_run[0] && !p.cmd.burner_run);
        assert_ne!(p.fault_word() & fault::ESTOP, 0);
        p.cmd.estop = false;
        p.step(TICK);
        assert!(!p.pump_running(0), "stays stopped until restarted");
    }

    #[test]
    fn counter_wraps() {
        let mut p = Plant::new(1);
        for _ in 0..65535 {
            p.step(Duration::ZERO);
        }
        assert_eq!(p.counter(), 65535);
        p.step(Duration::ZERO);
        assert_eq!(p.counter(), 0);
        assert_eq!(p.elapsed(), Duration::ZERO);
    }

    #[test]
    fn same_seed_same_plant() {
        let mut a = Plant::new(42);
        let mut b = Plant::new(42);
        let mut c = Plant::new(43);
        for i in 0..500u64 {
            let dt = Duration::from_millis(50 + i % 7 * 20);
            a.step(dt);
            b.step(dt);
            c.step(dt);
        }
        assert_eq!(a, b);
        assert_eq!(a.pressure().to_bits(), b.pressure().to_bits());
        assert_ne!(a.pressure(), c.pressure(), "another seed, other noise");
    }

    #[test]
    fn rng_is_uniform_enough() {
        let mut r = Rng::new(0);
        let xs: Vec<f64> = (0..10_000).map(|_| r.symmetric()).collect();
        assert!(xs.iter().all(|x| (-1.0..1.0).contains(x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.05, "mean {mean}");
    }
}
