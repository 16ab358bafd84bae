//! Reads the year files (`config/calendar/<year>.toml`) the project ships.

use std::path::Path;

use super::{parse_year, CalendarError, YearData};

/// Every `*.toml` file of `dir`, each one year; the file name must be its year.
pub fn load_dir(dir: &Path) -> Result<Vec<YearData>, CalendarError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| CalendarError::Invalid(format!("cannot read {}: {e}", dir.display())))?;
    let mut years = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| CalendarError::Invalid(format!("cannot read {}: {e}", path.display())))?;
        let data = parse_year(&text)
            .map_err(|e| CalendarError::Invalid(format!("{}: {e}", path.display())))?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if stem != data.year.to_string() {
            return Err(CalendarError::Invalid(format!(
                "{} holds year {}; name it {}.toml",
                path.display(),
                data.year,
                data.year
            )));
        }
        years.push(data);
    }
    years.sort_by_key(|y| y.year);
    Ok(years)
}
