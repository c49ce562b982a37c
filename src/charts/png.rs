//! A small in-memory PNG encoder for RGB8 pixels.
//!
//! plotters' bitmap backend only encodes PNGs to files, so the charts encode
//! their pixel buffer here: one IDAT with zlib data made of a single
//! fixed-Huffman deflate block, whose LZ77 looks for repeats at the previous
//! pixel, the previous row and a hash candidate. Charts are mostly flat
//! colour, so this compresses them well (typically 15–40×).

/// The eight bytes every PNG file starts with.
pub const PNG_MAGIC: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// Encodes `rgb` (`width * height * 3` bytes, rows top to bottom) as a PNG.
pub(crate) fn encode_rgb(rgb: &[u8], width: u32, height: u32) -> Vec<u8> {
    let stride = width as usize * 3;
    assert_eq!(rgb.len(), stride * height as usize, "RGB buffer size");
    let mut raw = Vec::with_capacity((stride + 1) * height as usize);
    for row in rgb.chunks_exact(stride.max(1)) {
        raw.push(0); // filter type None
        raw.extend_from_slice(row);
    }
    let mut z = vec![0x78, 0x01];
    z.extend(deflate_fixed(&raw, stride + 1));
    z.extend(adler32(&raw).to_be_bytes());

    let mut out = Vec::with_capacity(z.len() + 64);
    out.extend(PNG_MAGIC);
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]); // 8 bits, truecolour, deflate, no filter method, no interlace
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &z);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend((data.len() as u32).to_be_bytes());
    out.extend(kind);
    out.extend(data);
    out.extend(crc32(&[kind, data]).to_be_bytes());
}

const CRC_TABLE: [u32; 256] = crc_table();

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
}

/// The CRC-32 of the concatenated `parts`, as PNG chunks use it.
pub(crate) fn crc32(parts: &[&[u8]]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for part in parts {
        for &b in *part {
            c = CRC_TABLE[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8);
        }
    }
    c ^ 0xFFFF_FFFF
}

pub(crate) fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    for block in data.chunks(5552) {
        for &x in block {
            a += x as u32;
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl BitWriter {
    /// Writes the low `count` bits of `bits`, least significant first.
    fn put(&mut self, bits: u32, count: u32) {
        self.acc |= (bits as u64) << self.n;
        self.n += count;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// Writes a Huffman code, which deflate stores most significant bit first.
    fn put_code(&mut self, code: u32, len: u32) {
        let mut r = 0;
        for i in 0..len {
            r = (r << 1) | ((code >> i) & 1);
        }
        self.put(r, len);
    }

    /// A literal/length symbol in the fixed Huffman code (RFC 1951 3.2.6).
    fn symbol(&mut self, sym: u32) {
        match sym {
            0..=143 => self.put_code(0x30 + sym, 8),
            144..=255 => self.put_code(0x190 + sym - 144, 9),
            256..=279 => self.put_code(sym - 256, 7),
            _ => self.put_code(0xC0 + sym - 280, 8),
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

pub(crate) const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
pub(crate) const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
pub(crate) const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
pub(crate) const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

const WINDOW: usize = 32768;
const MAX_MATCH: usize = 258;
const HASH_BITS: u32 = 15;

fn hash3(d: &[u8], i: usize) -> usize {
    let v = u32::from_le_bytes([d[i], d[i + 1], d[i + 2], 0]);
    (v.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
}

/// Raw deflate (no zlib header): one final fixed-Huffman block.
/// `stride` is the row length, tried as a match distance.
fn deflate_fixed(data: &[u8], stride: usize) -> Vec<u8> {
    let mut w = BitWriter {
        out: Vec::with_capacity(data.len() / 8 + 64),
        acc: 0,
        n: 0,
    };
    w.put(1, 1); // BFINAL
    w.put(1, 2); // BTYPE = fixed Huffman
    let mut head = vec![usize::MAX; 1 << HASH_BITS];
    let n = data.len();
    let mut i = 0;
    while i < n {
        let (mut best_len, mut best_dist) = (0, 0);
        if i + 3 <= n {
            let h = hash3(data, i);
            let limit = MAX_MATCH.min(n - i);
            let candidates = [
                head[h],
                i.wrapping_sub(3),
                i.wrapping_sub(stride),
                i.wrapping_sub(1),
            ];
            for c in candidates {
                if c >= i || i - c > WINDOW {
                    continue;
                }
                let len = data[c..]
                    .iter()
                    .zip(&data[i..i + limit])
                    .take_while(|(a, b)| a == b)
                    .count();
                if len > best_len {
                    best_len = len;
                    best_dist = i - c;
                }
            }
            head[h] = i;
        }
        if best_len >= 3 {
            put_match(&mut w, best_len, best_dist);
            for j in i + 1..(i + best_len).min(n.saturating_sub(2)) {
                head[hash3(data, j)] = j;
            }
            i += best_len;
        } else {
            w.symbol(data[i] as u32);
            i += 1;
        }
    }
    w.symbol(256);
    w.finish()
}

fn put_match(w: &mut BitWriter, len: usize, dist: usize) {
    let li = LEN_BASE.partition_point(|&b| b as usize <= len) - 1;
    w.symbol(257 + li as u32);
    w.put((len - LEN_BASE[li] as usize) as u32, LEN_EXTRA[li] as u32);
    let di = DIST_BASE.partition_point(|&b| b as usize <= dist) - 1;
    w.put_code(di as u32, 5);
    w.put(
        (dist - DIST_BASE[di] as usize) as u32,
        DIST_EXTRA[di] as u32,
    );
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    struct BitReader<'a> {
        data: &'a [u8],
        pos: usize,
    }

    impl BitReader<'_> {
        fn bit(&mut self) -> u32 {
            let b = (self.data[self.pos / 8] >> (self.pos % 8)) & 1;
            self.pos += 1;
            b as u32
        }
        fn bits(&mut self, n: u32) -> u32 {
            (0..n).fold(0, |acc, i| acc | (self.bit() << i))
        }
    }

    /// Inflates raw deflate made of fixed-Huffman and stored blocks (what
    /// the encoder writes), to check it round-trips.
    fn inflate(data: &[u8]) -> Vec<u8> {
        let mut r = BitReader { data, pos: 0 };
        let mut out = Vec::new();
        loop {
            let last = r.bit();
            match r.bits(2) {
                0 => {
                    r.pos = r.pos.div_ceil(8) * 8;
                    let len = r.bits(16) as usize;
                    let _nlen = r.bits(16);
                    let start = r.pos / 8;
                    out.extend_from_slice(&data[start..start + len]);
                    r.pos += len * 8;
                }
                1 => loop {
                    let mut code = 0;
                    let mut len = 0;
                    let sym = loop {
                        code = (code << 1) | r.bit();
                        len += 1;
                        match (len, code) {
                            (7, 0..=23) => break 256 + code,
                            (8, 0x30..=0xBF) => break code - 0x30,
                            (8, 0xC0..=0xC7) => break 280 + code - 0xC0,
                            (9, 0x190..=0x1FF) => break 144 + code - 0x190,
                            (9, _) => panic!("bad code"),
                            _ => {}
                        }
                    };
                    match sym {
                        0..=255 => out.push(sym as u8),
                        256 => break,
                        _ => {
                            let li = (sym - 257) as usize;
                            let len = LEN_BASE[li] as usize + r.bits(LEN_EXTRA[li] as u32) as usize;
                            let di = (0..5).fold(0, |acc, _| (acc << 1) | r.bit()) as usize;
                            let dist =
                                DIST_BASE[di] as usize + r.bits(DIST_EXTRA[di] as u32) as usize;
                            assert!(dist <= out.len(), "distance beyond start");
                            let from = out.len() - dist;
                            for k in 0..len {
                                out.push(out[from + k]);
                            }
                        }
                    }
                },
                t => panic!("unexpected block type {t}"),
            }
            if last == 1 {
                return out;
            }
        }
    }

    /// Decodes a PNG written by [`encode_rgb`]: checks the signature, chunk
    /// CRCs, zlib header and Adler-32, and returns (width, height, RGB).
    pub(crate) fn decode(png: &[u8]) -> (u32, u32, Vec<u8>) {
        assert_eq!(png[..8], PNG_MAGIC);
        let mut pos = 8;
        let (mut w, mut h) = (0, 0);
        let mut idat = Vec::new();
        loop {
            let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
            let kind = &png[pos + 4..pos + 8];
            let data = &png[pos + 8..pos + 8 + len];
            let crc = u32::from_be_bytes(png[pos + 8 + len..pos + 12 + len].try_into().unwrap());
            assert_eq!(crc, crc32(&[kind, data]), "CRC of {kind:?}");
            match kind {
                b"IHDR" => {
                    w = u32::from_be_bytes(data[0..4].try_into().unwrap());
                    h = u32::from_be_bytes(data[4..8].try_into().unwrap());
                    assert_eq!(data[8..], [8, 2, 0, 0, 0]);
                }
                b"IDAT" => idat.extend_from_slice(data),
                b"IEND" => break,
                _ => {}
            }
            pos += 12 + len;
        }
        assert_eq!(
            (idat[0] as u32 * 256 + idat[1] as u32) % 31,
            0,
            "zlib header"
        );
        let raw = inflate(&idat[2..idat.len() - 4]);
        let adler = u32::from_be_bytes(idat[idat.len() - 4..].try_into().unwrap());
        assert_eq!(adler, adler32(&raw));
        let stride = w as usize * 3;
        assert_eq!(raw.len(), (stride + 1) * h as usize);
        let mut rgb = Vec::with_capacity(stride * h as usize);
        for row in raw.chunks_exact(stride + 1) {
            assert_eq!(row[0], 0, "filter type");
            rgb.extend_from_slice(&row[1..]);
        }
        (w, h, rgb)
    }

    #[test]
    fn crc_and_adler_known_values() {
        assert_eq!(crc32(&[b"IEND"]), 0xAE42_6082);
        assert_eq!(crc32(&[b"123456789"]), 0xCBF4_3926);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }

    #[test]
    fn round_trips_flat_and_noisy_pixels() {
        let (w, h) = (37u32, 23u32);
        let mut rgb = vec![255u8; (w * h * 3) as usize];
        // A flat block, a gradient and pseudo-random noise.
        let mut seed = 12345u32;
        for y in 0..h {
            for x in 0..w {
                let i = ((y * w + x) * 3) as usize;
                if x > 25 {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    rgb[i..i + 3].copy_from_slice(&seed.to_le_bytes()[..3]);
                } else if y > 10 {
                    rgb[i..i + 3].copy_from_slice(&[x as u8 * 7, y as u8 * 5, 0x40]);
                }
            }
        }
        let png = encode_rgb(&rgb, w, h);
        let (dw, dh, back) = decode(&png);
        assert_eq!((dw, dh), (w, h));
        assert_eq!(back, rgb);
    }

    #[test]
    fn compresses_flat_images() {
        let (w, h) = (720u32, 420u32);
        let rgb = vec![255u8; (w * h * 3) as usize];
        let png = encode_rgb(&rgb, w, h);
        assert!(png.len() < 20_000, "{} bytes", png.len());
        assert_eq!(decode(&png).2, rgb);
    }
}
