//! PNG bytes from the RGB pixels plotters' bitmap backend draws into (its
//! own encoder only writes to files), with the `png` crate.

/// The eight bytes every PNG file starts with.
pub const PNG_MAGIC: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// Encodes `rgb` (`width * height * 3` bytes, rows top to bottom) as a PNG.
pub(crate) fn encode_rgb(rgb: &[u8], width: u32, height: u32) -> Vec<u8> {
    assert_eq!(
        rgb.len(),
        width as usize * 3 * height as usize,
        "RGB buffer size"
    );
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        // Charts are flat colour: the row filters and default deflate
        // compress them 15–40×.
        encoder.set_compression(png::Compression::Default);
        let mut writer = encoder
            .write_header()
            .expect("writing a PNG header to memory cannot fail");
        writer
            .write_image_data(rgb)
            .expect("the buffer has exactly width × height pixels");
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Decodes a PNG to (width, height, RGB8 pixels).
    pub(crate) fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        assert_eq!(bytes[..8], PNG_MAGIC);
        let decoder = png::Decoder::new(bytes);
        let mut reader = decoder.read_info().expect("a valid PNG");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("one frame");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    #[test]
    fn pixels_round_trip() {
        let (w, h) = (37, 11);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect();
        let bytes = encode_rgb(&rgb, w, h);
        assert_eq!(decode(&bytes), (w, h, rgb));
    }
}
