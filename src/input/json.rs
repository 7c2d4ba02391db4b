//! Results files streamed into their typed structs: the file is never held
//! whole, nor turned into a `serde_json::Value` tree (which takes several
//! times the file's size). A file whose type is named by a field (`schema`)
//! is read in one pass: [`read_tagged`] reads that field first when it comes
//! first (as dbload writes it), buffering only the fields before it.

use std::io::{BufReader, Read};
use std::marker::PhantomData;
use std::path::Path;

use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::{CappedReader, InputError, Limit};

/// A type read from a JSON object whose `tag` field says which shape the
/// rest has.
pub trait Tagged: Sized {
    /// The field naming the shape (e.g. `"schema"`).
    const TAG: &'static str;
    /// The values of the tag [`Tagged::from_tagged`] knows; another is
    /// refused where it stands in the file.
    const KNOWN: &'static [&'static str];
    /// Read the whole object (tag included) as the shape `tag` names.
    fn from_tagged<'de, D: Deserializer<'de>>(tag: &str, object: D) -> Result<Self, D::Error>;
}

/// Read the JSON file at `path` (at most `limit`) as a [`Tagged`] type.
pub fn read_tagged<T: Tagged>(path: &Path, limit: Limit) -> Result<T, InputError> {
    let origin = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| InputError::Io {
        origin: origin.clone(),
        source,
    })?;
    read_tagged_from(file, &origin, limit)
}

/// Read `reader` as a [`Tagged`] type; `origin` names it in errors.
pub fn read_tagged_from<T: Tagged>(
    reader: impl Read,
    origin: &str,
    limit: Limit,
) -> Result<T, InputError> {
    stream(reader, origin, limit, |de| {
        de.deserialize_map(TaggedVisitor::<T>(PhantomData))
    })
}

/// Read the JSON file at `path` (at most `limit`) as a `T`.
pub fn read<T: serde::de::DeserializeOwned>(path: &Path, limit: Limit) -> Result<T, InputError> {
    let origin = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| InputError::Io {
        origin: origin.clone(),
        source,
    })?;
    stream(file, &origin, limit, |de| T::deserialize(de))
}

type JsonReader<'a, R> = serde_json::Deserializer<serde_json::de::IoRead<&'a mut R>>;

/// Run `parse` on a streaming deserializer over `reader`, then check that
/// nothing but whitespace follows, and turn its errors into [`InputError`]s.
fn stream<R: Read, T>(
    reader: R,
    origin: &str,
    limit: Limit,
    parse: impl for<'a> FnOnce(
        &'a mut JsonReader<'_, CappedReader<BufReader<R>>>,
    ) -> Result<T, serde_json::Error>,
) -> Result<T, InputError> {
    let mut capped = CappedReader::new(BufReader::with_capacity(256 * 1024, reader), limit);
    let mut de = serde_json::Deserializer::from_reader(&mut capped);
    let out = parse(&mut de).and_then(|v| de.end().map(|()| v));
    drop(de);
    out.map_err(|e| {
        if capped.exceeded {
            return InputError::TooLarge {
                origin: origin.into(),
                limit,
            };
        }
        if let Some(kind) = e.io_error_kind().filter(|_| e.is_io()) {
            return InputError::Io {
                origin: origin.into(),
                source: std::io::Error::from(kind),
            };
        }
        // serde_json's message ends with its position: say it our way.
        let text = e.to_string();
        let message = text
            .rsplit_once(" at line ")
            .map_or(text.as_str(), |(m, _)| m)
            .to_string();
        InputError::Content {
            origin: origin.into(),
            line: e.line().max(1),
            column: e.column().max(1),
            message,
        }
    })
}

struct TaggedVisitor<T>(PhantomData<T>);

impl<'de, T: Tagged> Visitor<'de> for TaggedVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "a JSON object with a \"{}\" field", T::TAG)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        // Fields before the tag (none in the files dbload writes), kept as
        // their text: about their size in memory.
        let mut before: Vec<(String, Box<RawValue>)> = Vec::new();
        let tag = loop {
            match map.next_key::<String>()? {
                None => return Err(de::Error::missing_field(T::TAG)),
                Some(k) if k == T::TAG => break map.next_value_seed(KnownTag::<T>(PhantomData))?,
                Some(k) => before.push((k, map.next_value()?)),
            }
        };
        let tag_json = serde_json::to_string(&tag).map_err(de::Error::custom)?;
        before.push((
            T::TAG.to_string(),
            RawValue::from_string(tag_json).map_err(de::Error::custom)?,
        ));
        let rest = Replay {
            before: before.into_iter(),
            pending: None,
            map,
        };
        T::from_tagged(&tag, de::value::MapAccessDeserializer::new(rest))
    }
}

/// The tag's value, checked against [`Tagged::KNOWN`] as it is read (so
/// an unknown one is reported at its own line and column).
struct KnownTag<T>(PhantomData<T>);

impl<'de, T: Tagged> DeserializeSeed<'de> for KnownTag<T> {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        // Checked inside the visitor: the parser then places the error.
        d.deserialize_str(self)
    }
}

impl<'de, T: Tagged> Visitor<'de> for KnownTag<T> {
    type Value = String;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "one of {}", T::KNOWN.join(", "))
    }

    fn visit_str<E: de::Error>(self, tag: &str) -> Result<String, E> {
        if T::KNOWN.contains(&tag) {
            return Ok(tag.to_string());
        }
        Err(E::custom(format!(
            "{} {tag:?} is not {}",
            T::TAG,
            T::KNOWN.join(" nor ")
        )))
    }
}

/// The fields read while looking for the tag, then the rest of the map.
struct Replay<A> {
    before: std::vec::IntoIter<(String, Box<RawValue>)>,
    pending: Option<Box<RawValue>>,
    map: A,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Replay<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        match self.before.next() {
            Some((k, v)) => {
                self.pending = Some(v);
                seed.deserialize(k.into_deserializer()).map(Some)
            }
            None => self.map.next_key_seed(seed),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        match self.pending.take() {
            Some(v) => {
                // Read from an owned buffer: a reader borrows nothing, so
                // it can feed any `'de`.
                let text = std::io::Cursor::new(Box::<str>::from(v).into_boxed_bytes());
                seed.deserialize(&mut serde_json::Deserializer::from_reader(text))
                    .map_err(de::Error::custom)
            }
            None => self.map.next_value_seed(seed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Deserialize)]
    struct A {
        schema: String,
        x: u32,
        inner: Vec<u8>,
    }

    #[derive(Debug, PartialEq)]
    enum Either {
        A(A),
        B,
    }

    impl Tagged for Either {
        const TAG: &'static str = "schema";
        const KNOWN: &'static [&'static str] = &["a/1", "b/1"];
        fn from_tagged<'de, D: Deserializer<'de>>(tag: &str, d: D) -> Result<Self, D::Error> {
            match tag {
                "a/1" => A::deserialize(d).map(Either::A),
                "b/1" => {
                    de::IgnoredAny::deserialize(d)?;
                    Ok(Either::B)
                }
                other => Err(de::Error::custom(format!("unknown schema {other:?}"))),
            }
        }
    }

    const BIG: Limit = Limit {
        bytes: 1 << 20,
        what: "tests",
    };

    fn read(text: &str) -> Result<Either, String> {
        read_tagged_from(text.as_bytes(), "r.json", BIG).map_err(|e| e.to_string())
    }

    #[test]
    fn the_tag_picks_the_shape_wherever_it_is() {
        let a = Either::A(A {
            schema: "a/1".into(),
            x: 3,
            inner: vec![1, 2],
        });
        assert_eq!(read(r#"{"schema":"a/1","x":3,"inner":[1,2]}"#), Ok(a));
        let Ok(Either::A(late)) = read(r#"{"x":3,"inner":[1,2],"schema":"a/1"}"#) else {
            panic!()
        };
        assert_eq!((late.x, late.inner), (3, vec![1, 2]));
        assert_eq!(read(r#"{"schema":"b/1","y":{"z":[]}}"#), Ok(Either::B));
    }

    #[test]
    fn faults_name_line_and_column() {
        assert_eq!(
            read("{\"schema\":\"a/1\",\n\"x\":\"three\"}").unwrap_err(),
            "r.json:2:11: invalid type: string \"three\", expected u32"
        );
        assert_eq!(
            read("{\"schema\":\n \"c/1\"}").unwrap_err(),
            "r.json:2:6: schema \"c/1\" is not a/1 nor b/1"
        );
        assert!(
            read("{\"x\":1}")
                .unwrap_err()
                .contains("missing field `schema`")
        );
        assert!(read("{} trailing").unwrap_err().starts_with("r.json:1:"));
        let e = read_tagged::<Either>(Path::new("/dev/zero"), BIG)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/dev/zero:1:1: expected value"), "{e}");
        let tiny = Limit {
            bytes: 10,
            what: "tests",
        };
        let e = read_tagged_from::<Either>(&b"{\"schema\":\"b/1\",\"y\":1}"[..], "r", tiny)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "r: larger than 10 bytes, the limit for tests");
    }
}
