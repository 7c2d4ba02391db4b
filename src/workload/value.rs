//! The dynamic value of a workload variable, and its conversions to and from
//! PostgreSQL types: a value is converted to whatever type the server
//! inferred for the placeholder (an integer can feed an `int4`, `numeric` or
//! `text` parameter), so workload files need no casts for ordinary use.

use std::error::Error;

use bytes::{BufMut, BytesMut};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use tokio_postgres::Row;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

type BoxError = Box<dyn Error + Sync + Send>;

/// A variable's value.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
    Timestamp(DateTime<Utc>),
    Uuid(uuid::Uuid),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Null => write!(f, "NULL"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Text(v) => write!(f, "{v}"),
            Value::Timestamp(v) => write!(f, "{}", v.to_rfc3339()),
            Value::Uuid(v) => write!(f, "{v}"),
        }
    }
}

fn mismatch(v: &Value, ty: &Type) -> BoxError {
    format!("cannot send {v:?} as a {ty} parameter").into()
}

impl Value {
    fn as_i64(&self, ty: &Type) -> Result<i64, BoxError> {
        match self {
            Value::Int(v) => Ok(*v),
            Value::Float(v) if v.fract() == 0.0 => Ok(*v as i64),
            Value::Bool(b) => Ok(*b as i64),
            Value::Text(s) => s.trim().parse().map_err(|_| mismatch(self, ty)),
            _ => Err(mismatch(self, ty)),
        }
    }
    fn as_f64(&self, ty: &Type) -> Result<f64, BoxError> {
        match self {
            Value::Int(v) => Ok(*v as f64),
            Value::Float(v) => Ok(*v),
            Value::Text(s) => s.trim().parse().map_err(|_| mismatch(self, ty)),
            _ => Err(mismatch(self, ty)),
        }
    }
}

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        if matches!(self, Value::Null) {
            return Ok(IsNull::Yes);
        }
        match *ty {
            Type::INT2 => i16::try_from(self.as_i64(ty)?)?.to_sql(ty, out),
            Type::INT4 => i32::try_from(self.as_i64(ty)?)?.to_sql(ty, out),
            Type::INT8 => self.as_i64(ty)?.to_sql(ty, out),
            Type::OID => u32::try_from(self.as_i64(ty)?)?.to_sql(ty, out),
            Type::FLOAT4 => (self.as_f64(ty)? as f32).to_sql(ty, out),
            Type::FLOAT8 => self.as_f64(ty)?.to_sql(ty, out),
            Type::NUMERIC => {
                let s = match self {
                    Value::Int(v) => v.to_string(),
                    Value::Float(v) => format!("{v:.6}"),
                    Value::Text(s) => s.clone(),
                    _ => return Err(mismatch(self, ty)),
                };
                numeric_to_sql(&s, out)?;
                Ok(IsNull::No)
            }
            Type::BOOL => match self {
                Value::Bool(b) => b.to_sql(ty, out),
                Value::Int(v) => (*v != 0).to_sql(ty, out),
                Value::Text(s) => matches!(s.as_str(), "t" | "true" | "1").to_sql(ty, out),
                _ => Err(mismatch(self, ty)),
            },
            Type::UUID => match self {
                Value::Uuid(u) => u.to_sql(ty, out),
                Value::Text(s) => uuid::Uuid::parse_str(s)?.to_sql(ty, out),
                _ => Err(mismatch(self, ty)),
            },
            Type::TIMESTAMPTZ => match self {
                Value::Timestamp(t) => t.to_sql(ty, out),
                _ => Err(mismatch(self, ty)),
            },
            Type::TIMESTAMP => match self {
                Value::Timestamp(t) => t.naive_utc().to_sql(ty, out),
                _ => Err(mismatch(self, ty)),
            },
            Type::DATE => match self {
                Value::Timestamp(t) => t.date_naive().to_sql(ty, out),
                Value::Text(s) => s.parse::<NaiveDate>()?.to_sql(ty, out),
                _ => Err(mismatch(self, ty)),
            },
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => match self {
                Value::Text(s) => s.as_str().to_sql(ty, out),
                other => other.to_string().as_str().to_sql(ty, out),
            },
            _ => Err(format!(
                "parameter type {ty} is not supported; cast the placeholder (e.g. :x::text)"
            )
            .into()),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Encode a decimal string as PostgreSQL's binary `numeric`.
fn numeric_to_sql(s: &str, out: &mut BytesMut) -> Result<(), BoxError> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!("invalid numeric value {s:?}").into());
    }
    let dscale = frac.len() as u16;
    // Pad the integer part on the left and the fraction on the right to
    // multiples of 4 digits, then cut into base-10000 digits.
    let int_pad = (4 - int.len() % 4) % 4;
    let frac_pad = (4 - frac.len() % 4) % 4;
    let digits_str = format!(
        "{}{}{}{}",
        "0".repeat(int_pad),
        int,
        frac,
        "0".repeat(frac_pad)
    );
    let mut digits: Vec<i16> = digits_str
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap().parse::<i16>().unwrap())
        .collect();
    let mut weight = ((int.len() + int_pad) / 4) as i16 - 1;
    while digits.first() == Some(&0) {
        digits.remove(0);
        weight -= 1;
    }
    while digits.last() == Some(&0) {
        digits.pop();
    }
    if digits.is_empty() {
        weight = 0;
    }
    out.put_i16(digits.len() as i16);
    out.put_i16(weight);
    out.put_u16(if neg && !digits.is_empty() { 0x4000 } else { 0 });
    out.put_u16(dscale);
    for d in digits {
        out.put_i16(d);
    }
    Ok(())
}

/// Decode PostgreSQL's binary `numeric` into an f64 (for binding results).
fn numeric_from_sql(buf: &[u8]) -> Result<f64, BoxError> {
    if buf.len() < 8 {
        return Err("short numeric".into());
    }
    let n = i16::from_be_bytes([buf[0], buf[1]]);
    let weight = i16::from_be_bytes([buf[2], buf[3]]) as i32;
    let sign = u16::from_be_bytes([buf[4], buf[5]]);
    match sign {
        0x0000 | 0x4000 => {}
        0xC000 => return Ok(f64::NAN),
        0xD000 => return Ok(f64::INFINITY),
        0xF000 => return Ok(f64::NEG_INFINITY),
        other => return Err(format!("numeric with unknown sign 0x{other:04X}").into()),
    }
    if n < 0 || buf.len() != 8 + 2 * n as usize {
        return Err(format!("numeric of {n} digit(s) in a {}-byte value", buf.len()).into());
    }
    let mut v = 0.0;
    for i in 0..n as usize {
        let o = 8 + 2 * i;
        let d = i16::from_be_bytes([buf[o], buf[o + 1]]) as f64;
        v += d * 10000f64.powi(weight - i as i32);
    }
    Ok(if sign == 0x4000 { -v } else { v })
}

struct RawNumeric(f64);
impl<'a> tokio_postgres::types::FromSql<'a> for RawNumeric {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        numeric_from_sql(raw).map(RawNumeric)
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

/// Whether a result column of this type can be bound to a variable.
pub fn bindable(ty: &Type) -> bool {
    matches!(
        *ty,
        Type::INT2
            | Type::INT4
            | Type::INT8
            | Type::OID
            | Type::FLOAT4
            | Type::FLOAT8
            | Type::NUMERIC
            | Type::BOOL
            | Type::TEXT
            | Type::VARCHAR
            | Type::BPCHAR
            | Type::NAME
            | Type::UUID
            | Type::TIMESTAMPTZ
            | Type::TIMESTAMP
            | Type::DATE
    )
}

/// Read column `idx` of `row` as a [`Value`].
pub fn from_row(row: &Row, idx: usize) -> Result<Value, tokio_postgres::Error> {
    let ty = row.columns()[idx].type_().clone();
    Ok(match ty {
        Type::INT2 => row
            .try_get::<_, Option<i16>>(idx)?
            .map(|v| Value::Int(v as i64)),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(idx)?
            .map(|v| Value::Int(v as i64)),
        Type::INT8 => row.try_get::<_, Option<i64>>(idx)?.map(Value::Int),
        Type::OID => row
            .try_get::<_, Option<u32>>(idx)?
            .map(|v| Value::Int(v as i64)),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(idx)?
            .map(|v| Value::Float(v as f64)),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(idx)?.map(Value::Float),
        Type::NUMERIC => row
            .try_get::<_, Option<RawNumeric>>(idx)?
            .map(|v| Value::Float(v.0)),
        Type::BOOL => row.try_get::<_, Option<bool>>(idx)?.map(Value::Bool),
        Type::UUID => row.try_get::<_, Option<uuid::Uuid>>(idx)?.map(Value::Uuid),
        Type::TIMESTAMPTZ => row
            .try_get::<_, Option<DateTime<Utc>>>(idx)?
            .map(Value::Timestamp),
        Type::TIMESTAMP => row
            .try_get::<_, Option<NaiveDateTime>>(idx)?
            .map(|t| Value::Timestamp(t.and_utc())),
        Type::DATE => row
            .try_get::<_, Option<NaiveDate>>(idx)?
            .map(|d| Value::Timestamp(d.and_hms_opt(0, 0, 0).unwrap().and_utc())),
        _ => row.try_get::<_, Option<String>>(idx)?.map(Value::Text),
    }
    .unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_round_trip() {
        for (s, f) in [
            ("0", 0.0),
            ("12345.678", 12345.678),
            ("-0.05", -0.05),
            ("100000000", 1e8),
        ] {
            let mut b = BytesMut::new();
            numeric_to_sql(s, &mut b).unwrap();
            let back = numeric_from_sql(&b).unwrap();
            assert!((back - f).abs() < 1e-9, "{s}: {back}");
        }
    }
}

#[cfg(test)]
mod numeric_tests {
    use super::numeric_from_sql;

    fn raw(n: i16, weight: i16, sign: u16, digits: &[i16]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(n.to_be_bytes());
        b.extend(weight.to_be_bytes());
        b.extend(sign.to_be_bytes());
        b.extend(0i16.to_be_bytes());
        for d in digits {
            b.extend(d.to_be_bytes());
        }
        b
    }

    #[test]
    fn numeric_special_values_and_bad_buffers() {
        // 12345.6789 = 1|2345 . 6789
        assert_eq!(
            numeric_from_sql(&raw(3, 1, 0, &[1, 2345, 6789])).unwrap(),
            12345.6789
        );
        assert_eq!(numeric_from_sql(&raw(1, 0, 0x4000, &[7])).unwrap(), -7.0);
        assert!(numeric_from_sql(&raw(0, 0, 0xC000, &[])).unwrap().is_nan());
        assert_eq!(
            numeric_from_sql(&raw(0, 0, 0xD000, &[])).unwrap(),
            f64::INFINITY
        );
        assert_eq!(
            numeric_from_sql(&raw(0, 0, 0xF000, &[])).unwrap(),
            f64::NEG_INFINITY
        );
        // Claims 3 digits, carries 1: an error, not an out-of-bounds panic.
        assert!(numeric_from_sql(&raw(3, 0, 0, &[1])).is_err());
        assert!(numeric_from_sql(&raw(-1, 0, 0, &[])).is_err());
        assert!(numeric_from_sql(&raw(0, 0, 0x1234, &[])).is_err());
        assert!(numeric_from_sql(&[0, 1]).is_err());
    }
}
