//! Where an address is, coarsely: "Shenyang, Liaoning, CN". A person reading their sessions,
//! their recent logins or the message after a login, and the phone asking to confirm, tell
//! "my office" from "somewhere else" by a city far better than by a number.
//!
//! The places come from IP geolocation databases in MaxMind's format (`.mmdb`), named by
//! `SCANLOGIN_GEOIP_DB`: DB-IP's free *IP to City Lite* (CC BY 4.0; `make geoip` fetches
//! it, see docs/configuration.md), MaxMind's GeoLite2/GeoIP2 City or Country, or any file
//! in either's layout. Unset, no place is shown, only the address.
//!
//! A place is looked up when it is shown, from the address stored with the session or the
//! audit entry: nothing about places is stored, and a database added or updated later
//! places old sessions too.

use std::{collections::BTreeMap, fmt, net::IpAddr, path::Path, sync::Arc};

use maxminddb::{Mmap, Reader};
use serde::Deserialize;

use crate::protocol::PlacesCredit;

/// The databases, asked in turn (DB-IP ships one file for IPv4 and one for IPv6).
#[derive(Clone, Default)]
pub struct Places {
    databases: Arc<Vec<Reader<Mmap>>>,
    credit: Option<PlacesCredit>,
}

/// DB-IP's attribution, as its licence words it.
pub const DBIP_CREDIT: &str = "IP Geolocation by DB-IP https://db-ip.com";

impl std::str::FromStr for PlacesCredit {
    type Err = String;

    /// `IP Geolocation by DB-IP https://db-ip.com`: the words, then an optional https link.
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (words, link) = match text.rsplit_once(' ') {
            Some((words, last)) if last.starts_with("https://") => {
                let link = url::Url::parse(last).map_err(|e| format!("{last}: {e}"))?;
                (words.trim(), Some(link.to_string()))
            }
            _ if text.starts_with("https://") => return Err("words first, then the link".into()),
            _ => (text, None),
        };
        if words.is_empty() {
            return Err("give the words of the attribution".into());
        }
        Ok(Self {
            words: words.to_owned(),
            link,
        })
    }
}

impl fmt::Debug for Places {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Places")
            .field("databases", &self.databases.len())
            .field("credit", &self.credit)
            .finish()
    }
}

/// A database that could not be opened, and why.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct OpenError {
    path: String,
    reason: String,
}

impl Places {
    /// Opens every database in `paths`, and checks each can answer.
    pub fn open<P: AsRef<Path>>(
        paths: &[P],
        credit: Option<PlacesCredit>,
    ) -> Result<Self, OpenError> {
        let databases = paths
            .iter()
            .map(|path| {
                let path = path.as_ref();
                let failed = |reason: String| OpenError {
                    path: path.display().to_string(),
                    reason,
                };
                // SAFETY: the file is mapped, not read, so that each instance shares the
                // page cache instead of holding 60 MB or more of its own. Changing the
                // file in place while mapped would change memory under the reader: it is
                // replaced by renaming a new file over it, as docs/configuration.md says,
                // which leaves this mapping on the old file.
                let reader = unsafe { Reader::open_mmap(path) }
                    .map_err(|e| failed(format!("not a MaxMind-format database ({e})")))?;
                let probe: IpAddr = if reader.metadata.ip_version == 4 {
                    [1, 1, 1, 1].into()
                } else {
                    [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1].into()
                };
                reader
                    .lookup(probe)
                    .and_then(|found| found.decode::<Record>())
                    .map_err(|e| failed(format!("cannot be read as places ({e})")))?;
                Ok(reader)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            databases: Arc::new(databases),
            credit,
        })
    }

    /// Whether any database is configured.
    pub fn enabled(&self) -> bool {
        !self.databases.is_empty()
    }

    /// The attribution to show beside places, when there are places.
    pub fn credit(&self) -> Option<&PlacesCredit> {
        self.credit.as_ref().filter(|_| self.enabled())
    }

    /// The place of `ip` (a stored address, IPv4-mapped IPv6 included); empty when no
    /// database knows it, or it is not an address (`127.0.0.x`, a network as the phone
    /// is shown).
    pub fn of(&self, ip: &str) -> String {
        let Ok(ip) = ip.parse::<IpAddr>() else {
            return String::new();
        };
        let ip = ip.to_canonical();
        self.databases
            .iter()
            .filter(|db| ip.is_ipv4() || db.metadata.ip_version == 6)
            .find_map(|db| db.lookup(ip).ok()?.decode::<Record>().ok()?)
            .map(|record| record.words())
            .unwrap_or_default()
    }
}

/// A record in either layout. MaxMind's (GeoIP2/GeoLite2, DB-IP's own files): `city`,
/// `subdivisions` and `country` each with `names` by language and an `iso_code`.
/// ip-location-db's (DB-IP Lite from npm): flat `city`, `state1` and `country_code`.
#[derive(Debug, Default, Deserialize)]
struct Record {
    #[serde(default)]
    city: Option<Name>,
    #[serde(default)]
    subdivisions: Vec<Named>,
    #[serde(default)]
    state1: Option<String>,
    #[serde(default)]
    country: Option<Named>,
    #[serde(default)]
    country_code: Option<String>,
}

/// A name as a string, or as a map of names by language.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Name {
    Plain(String),
    Named(Named),
}

#[derive(Debug, Default, Deserialize)]
struct Named {
    #[serde(default)]
    iso_code: Option<String>,
    #[serde(default)]
    names: BTreeMap<String, String>,
}

impl Named {
    fn english(&self) -> Option<&str> {
        self.names.get("en").map(String::as_str)
    }
}

impl Record {
    /// City, region, country code, each once: "Shenyang, Liaoning, CN", "Beijing, CN".
    fn words(&self) -> String {
        let city = match &self.city {
            Some(Name::Plain(name)) => Some(name.as_str()),
            Some(Name::Named(named)) => named.english(),
            None => None,
        };
        let region = self
            .state1
            .as_deref()
            .or_else(|| self.subdivisions.first().and_then(Named::english));
        let country = self
            .country_code
            .as_deref()
            .or_else(|| self.country.as_ref().and_then(|c| c.iso_code.as_deref()));
        let mut parts: Vec<&str> = Vec::with_capacity(3);
        for part in [city, region, country].into_iter().flatten() {
            let part = part.trim();
            if !part.is_empty() && !parts.contains(&part) {
                parts.push(part);
            }
        }
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(json: serde_json::Value) -> Record {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn both_layouts_read_as_city_region_country() {
        let flat = record(serde_json::json!({
            "city": "Shenyang", "state1": "Liaoning", "country_code": "CN",
        }));
        assert_eq!(flat.words(), "Shenyang, Liaoning, CN");
        let maxmind = record(serde_json::json!({
            "city": {"names": {"en": "Beijing", "zh-CN": "北京"}},
            "subdivisions": [{"iso_code": "BJ", "names": {"en": "Beijing"}}],
            "country": {"iso_code": "CN", "names": {"en": "China"}},
        }));
        assert_eq!(
            maxmind.words(),
            "Beijing, CN",
            "a region named as its city once"
        );
        let country_only = record(serde_json::json!({"country": {"iso_code": "SE"}}));
        assert_eq!(country_only.words(), "SE");
        assert_eq!(Record::default().words(), "");
    }

    #[test]
    fn no_database_places_nothing() {
        let none = Places::default();
        assert!(!none.enabled());
        assert_eq!(none.of("1.2.4.8"), "");
    }

    #[test]
    fn a_file_that_is_not_a_database_is_named() {
        let path = std::env::temp_dir().join(format!("scanlogin-not-mmdb-{}", std::process::id()));
        std::fs::write(&path, b"not a database").unwrap();
        let err = Places::open(&[&path], None).unwrap_err().to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(err.starts_with(&path.display().to_string()), "{err}");
        assert!(err.contains("not a MaxMind-format database"), "{err}");
    }

    #[test]
    fn the_credit_is_words_then_a_link() {
        let dbip: PlacesCredit = DBIP_CREDIT.parse().unwrap();
        assert_eq!(dbip.words, "IP Geolocation by DB-IP");
        assert_eq!(dbip.link.as_deref(), Some("https://db-ip.com/"));
        let plain: PlacesCredit = "Places by our own data".parse().unwrap();
        assert_eq!(plain.link, None);
        assert!("https://db-ip.com".parse::<PlacesCredit>().is_err());
        assert!("  ".parse::<PlacesCredit>().is_err());
    }
}
