//! Percent-decoding of URL path segments, shared by the photoshop client (which checks a
//! status link names its job) and the emulator (which routes on it).

/// Decodes `%XX` escapes; a malformed escape is kept as is, like most servers do.
pub fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(
            percent_decode("urn%3Aff%3Ajobs%3Aemulator%3Aab").as_deref(),
            Some("urn:ff:jobs:emulator:ab")
        );
        assert_eq!(
            percent_decode("urn:ff:jobs").as_deref(),
            Some("urn:ff:jobs")
        );
        assert_eq!(percent_decode("100%").as_deref(), Some("100%"));
        assert_eq!(percent_decode("%zz%4").as_deref(), Some("%zz%4"));
        assert_eq!(percent_decode("%ff"), None);
    }
}
