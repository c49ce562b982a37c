//! Live counts: an in-memory index of profiles, traits and behaviour that
//! answers a segment definition with bitmaps (`roaring`) in milliseconds,
//! checked against the SQL compiler's answer in tests.
