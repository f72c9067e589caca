//! Where a Modbus tag is: its table and protocol (PDU) address, written as `coil:`, `discrete:`,
//! `input:` or `holding:` (0-based) or as a classic Modicon reference (`modicon: "40001"`), and
//! Modicon numbers written where a PDU address belongs.
//!
//! `holding: 40001` is PDU address 40001, legal and read as written, but far more often meant as
//! Modicon 40001 (holding register 0): it gets a warning naming both ways to write what was
//! meant. A Modicon number that is no PDU address at all (`holding: 400001`) is an error with the
//! same advice. Coils get no warning: their Modicon references (`00001`) are the plain numbers 1,
//! 2, … as YAML reads them, so `coil: 1` cannot be told from PDU address 1; written with its
//! leading zeros (`coil: 00001`), it is text, and refused with the advice.

use super::ctx::Ctx;
use super::de::Sp;
use super::model::Table;
use super::node::Loc;
use super::raw::{RawAddress, RawTag};

/// Parses a Modicon reference written with all its digits: 5 digits (`40001`) or 6 (`400001`).
pub fn parse_modicon(text: &str) -> Result<(Table, u16), String> {
    let t = text.trim();
    if !(t.len() == 5 || t.len() == 6) || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "`{text}` is not a Modicon reference; write 5 or 6 digits such as \"40001\" or \"400001\""
        ));
    }
    let table = match &t[..1] {
        "0" => Table::Coil,
        "1" => Table::Discrete,
        "3" => Table::Input,
        "4" => Table::Holding,
        d => {
            return Err(format!(
                "Modicon reference `{text}` starts with {d}; the tables are 0 (coil), 1 (discrete), 3 (input), 4 (holding)"
            ));
        }
    };
    let n: u32 = t[1..].parse().map_err(|_| format!("`{text}` is not a Modicon reference"))?;
    if n == 0 || n > 65536 {
        return Err(format!(
            "Modicon reference `{text}` is out of range: the number after the table digit is 1..65536"
        ));
    }
    Ok((table, (n - 1) as u16))
}

/// When `n`, written as a PDU address of `table`, has the form of a Modicon reference of that
/// same table (`T0001`..`T9999` or `T00001`..`T65536`, T the table's digit), the PDU address
/// that reference stands for. Never for coils (T is 0: their references are the numbers
/// 1..65536 themselves).
pub fn modicon_lookalike(table: Table, n: i128) -> Option<u16> {
    let t = i128::from(table.modicon_digit());
    if t == 0 {
        return None;
    }
    let base = if (t * 10_000 + 1..=t * 10_000 + 9_999).contains(&n) {
        t * 10_000
    } else if (t * 100_000 + 1..=t * 100_000 + 65_536).contains(&n) {
        t * 100_000
    } else {
        return None;
    };
    u16::try_from(n - base - 1).ok()
}

/// Where a tag is: its table, where the address is written, and the address (`None` when it has
/// an error). `None` when the tag has no address or more than one (reported).
pub(super) fn place(cx: &mut Ctx, name: &Sp<String>, raw: &RawTag) -> Option<(Table, Loc, Option<u16>)> {
    let mut places: Vec<(Table, Loc, Option<u16>)> = Vec::new();
    for (table, v) in [
        (Table::Coil, &raw.coil),
        (Table::Discrete, &raw.discrete),
        (Table::Input, &raw.input),
        (Table::Holding, &raw.holding),
    ] {
        if let Some(a) = v {
            places.push((table, a.loc, address(cx, table, a)));
        }
    }
    if let Some(m) = &raw.modicon {
        match parse_modicon(&m.value) {
            Ok((table, addr)) => places.push((table, m.loc, Some(addr))),
            Err(e) => {
                cx.err(m.loc, e, None);
                places.push((Table::Holding, m.loc, None));
            }
        }
    }
    if places.is_empty() {
        cx.err(
            name.loc,
            format!("tag `{}` has no address", **name),
            Some(
                "add one of coil:, discrete:, input:, holding: (0-based protocol address) or modicon: \"40001\"".into(),
            ),
        );
        return None;
    }
    if places.len() > 1 {
        let names: Vec<&str> = places.iter().map(|p| p.0.name()).collect();
        cx.err(
            places[1].1,
            format!("tag `{}` has more than one address ({})", **name, names.join(" and ")),
            Some("keep exactly one".into()),
        );
        return None;
    }
    Some(places[0])
}

/// The PDU address written as `table: a`; a diagnostic when it is none, a warning when it looks
/// like a Modicon number.
fn address(cx: &mut Ctx, table: Table, a: &Sp<RawAddress>) -> Option<u16> {
    let key = table.name();
    let whole = || Some(format!("write the protocol (PDU) address as a whole number, e.g. `{key}: 0`"));
    let meant = |text: &str, pdu: u16| format!("for Modicon {text} write `modicon: \"{text}\"` or `{key}: {pdu}`");
    match &a.value {
        RawAddress::Int(n) => match u16::try_from(*n) {
            Ok(pdu) => {
                if let Some(m) = modicon_lookalike(table, *n) {
                    cx.warn(
                        a.loc,
                        format!("{key}: {n} is PDU address {n}, which looks like the Modicon number {n}"),
                        Some(format!(
                            "{}; if the device's manual means PDU address {n}, write `modicon: \"{}\"`, which says so",
                            meant(&n.to_string(), m),
                            table.modicon(pdu)
                        )),
                    );
                }
                Some(pdu)
            }
            Err(_) => {
                let hint = match modicon_lookalike(table, *n) {
                    Some(m) => meant(&n.to_string(), m),
                    None => {
                        "protocol (PDU) addresses are 0..65535; for a Modicon number write modicon: \"40001\"".into()
                    }
                };
                cx.err(a.loc, format!("address {n} is out of range 0..65535"), Some(hint));
                None
            }
        },
        RawAddress::Text(text) => {
            let digits = text.len() > 1 && text.bytes().all(|b| b.is_ascii_digit());
            let message = if digits && text.starts_with('0') {
                format!("`{key}: {text}` is written with leading zeros")
            } else {
                format!("expected a number, found text `{text}`")
            };
            let hint = match parse_modicon(text) {
                Ok((t, pdu)) if t == table => Some(meant(text.trim(), pdu)),
                _ => whole(),
            };
            cx.err(a.loc, message, hint);
            None
        }
        RawAddress::Float(f) => {
            cx.err(a.loc, format!("expected a whole number, found number `{f}`"), whole());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modicon_forms_are_unambiguous() {
        assert_eq!(parse_modicon("40001"), Ok((Table::Holding, 0)));
        assert_eq!(parse_modicon("400001"), Ok((Table::Holding, 0)));
        assert_eq!(parse_modicon("465536"), Ok((Table::Holding, 65535)));
        assert_eq!(parse_modicon("00001"), Ok((Table::Coil, 0)));
        assert_eq!(parse_modicon("10002"), Ok((Table::Discrete, 1)));
        assert_eq!(parse_modicon("300010"), Ok((Table::Input, 9)));
        assert!(parse_modicon("1").is_err());
        assert!(parse_modicon("40000").is_err());
        assert!(parse_modicon("465537").is_err());
        assert!(parse_modicon("20001").unwrap_err().contains("starts with 2"));
        assert!(parse_modicon("4x001").is_err());
    }

    /// Every number from -1 to 700000 in every table: a look-alike exactly when its digits are a
    /// Modicon reference of that table, and then the address that reference names.
    #[test]
    fn lookalikes_are_exactly_the_modicon_references_of_the_same_table() {
        for table in [Table::Coil, Table::Discrete, Table::Input, Table::Holding] {
            let mut count = 0;
            for n in -1..=700_000i128 {
                let got = modicon_lookalike(table, n);
                let text = n.to_string();
                let expected = match parse_modicon(&text) {
                    Ok((t, pdu)) if t == table && table != Table::Coil => Some(pdu),
                    _ => None,
                };
                assert_eq!(got, expected, "{table:?} {n}");
                if let Some(pdu) = got {
                    count += 1;
                    // The reference of that address, in its own form, is the number written.
                    let five_or_six = if n < 100_000 {
                        format!("{}{:04}", table.modicon_digit(), pdu + 1)
                    } else {
                        format!("{}{:05}", table.modicon_digit(), u32::from(pdu) + 1)
                    };
                    assert_eq!(five_or_six, text);
                }
            }
            let expected = if table == Table::Coil { 0 } else { 9_999 + 65_536 };
            assert_eq!(count, expected, "{table:?}");
        }
        assert_eq!(modicon_lookalike(Table::Holding, 40001), Some(0));
        assert_eq!(modicon_lookalike(Table::Holding, 40100), Some(99));
        assert_eq!(modicon_lookalike(Table::Holding, 49999), Some(9998));
        assert_eq!(modicon_lookalike(Table::Holding, 40000), None);
        assert_eq!(modicon_lookalike(Table::Holding, 400001), Some(0));
        assert_eq!(modicon_lookalike(Table::Input, 40001), None);
        assert_eq!(modicon_lookalike(Table::Coil, 1), None);
    }
}
