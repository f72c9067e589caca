//! Where ttyhmi keeps its files: config, state (logs, audit), data (certificates).

use std::path::PathBuf;

use directories::ProjectDirs;

fn dirs() -> Option<ProjectDirs> {
    ProjectDirs::from("", "", "ttyhmi")
}

/// State folder: logs (and later the audit log and alarm journal).
pub fn state_dir() -> PathBuf {
    dirs()
        .map(|d| d.state_dir().unwrap_or_else(|| d.data_local_dir()).to_path_buf())
        .unwrap_or_else(|| std::env::temp_dir().join("ttyhmi"))
}

pub fn config_dir() -> PathBuf {
    dirs().map(|d| d.config_dir().to_path_buf()).unwrap_or_else(|| std::env::temp_dir().join("ttyhmi"))
}

pub fn data_dir() -> PathBuf {
    dirs().map(|d| d.data_dir().to_path_buf()).unwrap_or_else(|| std::env::temp_dir().join("ttyhmi"))
}
