//! What a meterhub configuration needs to take the emulator's meters: the
//! dlms-codec settings that decode its pushes, and the secrets file of its
//! meters' keys and passwords (for `e2e` tests, benches and the demo).

use super::options::Keys;
use super::system_title;

/// The `[drivers.<id>.codec_settings]` table (TOML, without its header)
/// that decodes the emulator's pushes: its `spodes-daily` layout and its
/// registers' scalers and units, as in dlms-codec's `settings.example.json`.
pub const CODEC_SETTINGS_TOML: &str = "utc_offset_minutes = 180\n\
    push_layouts = { spodes-daily = [\"0.0.25.9.0.255:1\", \"0.0.96.1.0.255:2\", \"0.0.1.0.0.255:2\", \
    \"1.0.1.8.0.255:2\", \"1.0.1.8.1.255:2\", \"1.0.1.8.2.255:2\", \"1.0.2.8.0.255:2\", \"1.0.3.8.0.255:2\", \
    \"1.0.4.8.0.255:2\"] }\n\
    registers = { \"1.0.1.8.0.255\" = { scaler = -3, unit = \"kWh\" }, \"1.0.1.8.1.255\" = { scaler = -3, unit = \"kWh\" }, \
    \"1.0.1.8.2.255\" = { scaler = -3, unit = \"kWh\" }, \"1.0.2.8.0.255\" = { scaler = -3, unit = \"kWh\" }, \
    \"1.0.3.8.0.255\" = { scaler = -3, unit = \"kvarh\" }, \"1.0.4.8.0.255\" = { scaler = -3, unit = \"kvarh\" } }\n";

/// The secrets file (TOML) listing the meters of `serials`, each with
/// `keys`: its EK and AK, and its LLS `password` (which the rbgu driver
/// sends in the AARQ of a command exchange).
pub fn secrets_toml(serials: impl IntoIterator<Item = u64>, keys: &Keys) -> String {
    let (ek, ak) =
        (meterhub_plugin_api::hex::encode_upper(&keys.ek.0), meterhub_plugin_api::hex::encode_upper(&keys.ak.0));
    let password = toml_string(&keys.password);
    serials
        .into_iter()
        .map(|n| {
            let title = meterhub_plugin_api::hex::encode_upper(&system_title(n));
            format!("[devices.{title}]\nek = \"{ek}\"\nak = \"{ak}\"\npassword = {password}\n")
        })
        .collect()
}

/// `text` as a TOML basic string (quotes, backslashes and control
/// characters escaped).
fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secrets_name_each_meter_by_its_title_with_the_keys() {
        let text = secrets_toml([1, 2], &Keys::example());
        assert_eq!(
            text,
            "[devices.4D48420000000001]\nek = \"000102030405060708090A0B0C0D0E0F\"\nak = \"D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF\"\n\
             password = \"12345678\"\n\
             [devices.4D48420000000002]\nek = \"000102030405060708090A0B0C0D0E0F\"\nak = \"D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF\"\n\
             password = \"12345678\"\n"
        );
        let table: toml::Table = toml::from_str(&text).expect("TOML");
        assert_eq!(table["devices"]["4D48420000000002"]["password"].as_str(), Some("12345678"));
    }

    #[test]
    fn a_password_with_quotes_and_backslashes_stays_toml() {
        let keys = Keys { password: r#"a"b\c d"#.to_owned(), ..Keys::example() };
        let table: toml::Table = toml::from_str(&secrets_toml([7], &keys)).expect("TOML");
        assert_eq!(table["devices"]["4D48420000000007"]["password"].as_str(), Some(r#"a"b\c d"#));
    }

    #[test]
    fn the_codec_settings_are_toml_with_the_layout_of_every_register() {
        let table: toml::Table = toml::from_str(CODEC_SETTINGS_TOML).expect("TOML");
        let layout = table["push_layouts"]["spodes-daily"].as_array().expect("a list");
        assert_eq!(layout.len(), 3 + super::super::READINGS_PER_PUSH as usize);
        assert_eq!(table["registers"].as_table().map(toml::Table::len), Some(6));
    }
}
