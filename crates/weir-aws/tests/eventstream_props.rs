//! Property tests of the event-stream framing: every header value type round-trips, and any
//! corruption of the prelude or the message is caught by its CRC (never a wrong message).

use bytes::Bytes;
use proptest::prelude::*;
use weir_aws::eventstream::{decode, encode, DecodeError, Decoder, Header, HeaderValue};

fn header_value() -> impl Strategy<Value = HeaderValue> {
    prop_oneof![
        any::<bool>().prop_map(HeaderValue::Bool),
        any::<i8>().prop_map(HeaderValue::Byte),
        any::<i16>().prop_map(HeaderValue::Int16),
        any::<i32>().prop_map(HeaderValue::Int32),
        any::<i64>().prop_map(HeaderValue::Int64),
        prop::collection::vec(any::<u8>(), 0..300)
            .prop_map(|v| HeaderValue::ByteArray(Bytes::from(v))),
        ".{0,40}".prop_map(HeaderValue::String),
        any::<i64>().prop_map(HeaderValue::Timestamp),
        any::<[u8; 16]>().prop_map(HeaderValue::Uuid),
    ]
}

fn header() -> impl Strategy<Value = Header> {
    ("[:a-zA-Z0-9_-]{1,30}", header_value()).prop_map(|(name, value)| Header { name, value })
}

fn message() -> impl Strategy<Value = (Vec<Header>, Vec<u8>)> {
    (
        prop::collection::vec(header(), 0..12),
        prop::collection::vec(any::<u8>(), 0..2000),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn round_trips_every_header_type((headers, payload) in message()) {
        let bytes = encode(&headers, &payload).unwrap();
        let (m, used) = decode(&bytes).unwrap().expect("a whole message");
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(m.headers, headers);
        prop_assert_eq!(&m.payload[..], &payload[..]);
    }

    #[test]
    fn a_flipped_prelude_bit_is_a_prelude_crc_error(
        (headers, payload) in message(),
        byte in 0usize..12,
        bit in 0u8..8,
    ) {
        let mut bytes = encode(&headers, &payload).unwrap().to_vec();
        bytes[byte] ^= 1 << bit;
        prop_assert_eq!(decode(&bytes).unwrap_err(), DecodeError::PreludeCrc);
    }

    #[test]
    fn a_flipped_bit_after_the_prelude_is_a_message_crc_error(
        (headers, payload) in message(),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let mut bytes = encode(&headers, &payload).unwrap().to_vec();
        let i = 12 + at.index(bytes.len() - 12);
        bytes[i] ^= 1 << bit;
        prop_assert_eq!(decode(&bytes).unwrap_err(), DecodeError::MessageCrc);
    }

    #[test]
    fn a_stream_split_anywhere_yields_the_same_messages(
        msgs in prop::collection::vec(message(), 1..5),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let mut wire = Vec::new();
        for (h, p) in &msgs {
            wire.extend_from_slice(&encode(h, p).unwrap());
        }
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(wire.len() + 1)).collect();
        points.push(0);
        points.push(wire.len());
        points.sort_unstable();
        let mut d = Decoder::new();
        let mut got = Vec::new();
        for w in points.windows(2) {
            d.push(&wire[w[0]..w[1]]);
            while let Some(m) = d.next_message().unwrap() {
                got.push((m.headers, m.payload.to_vec()));
            }
        }
        prop_assert_eq!(d.pending(), 0);
        prop_assert_eq!(got, msgs);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode(&data);
    }
}
