//! `ttyhmi schema`: the JSON schema of the layout format.

use std::process::ExitCode;

use anyhow::Result;

pub(super) fn schema() -> Result<ExitCode> {
    print!("{}", crate::layout::schema::json_schema());
    Ok(ExitCode::SUCCESS)
}
