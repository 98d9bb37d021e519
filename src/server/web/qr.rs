//! QR codes for the page's address, printed in the terminal at start
//! (`--qr`), so a phone can scan it off the Pi's screen.
//!
//! Only what an address needs (ISO/IEC 18004): byte mode, error correction
//! level L, versions 1 to 5 (up to 106 bytes, one Reed-Solomon block, no
//! version information), and one fixed mask (any mask is valid; the choice
//! only tunes readability).

/// Data codewords and error-correction codewords of versions 1-5 at level L.
const BLOCKS: [(usize, usize); 5] = [(19, 7), (34, 10), (55, 15), (80, 20), (108, 26)];

/// A square of modules, `true` dark.
pub struct Code {
    pub size: usize,
    dark: Vec<bool>,
    function: Vec<bool>,
}

impl Code {
    pub fn dark(&self, x: usize, y: usize) -> bool {
        self.dark[y * self.size + x]
    }

    fn set(&mut self, x: usize, y: usize, dark: bool) {
        self.dark[y * self.size + x] = dark;
        self.function[y * self.size + x] = true;
    }

    /// The finder pattern (with its light separator) centred at (cx, cy).
    fn finder(&mut self, cx: i32, cy: i32) {
        for dy in -4..=4i32 {
            for dx in -4..=4i32 {
                let (x, y) = (cx + dx, cy + dy);
                if (0..self.size as i32).contains(&x) && (0..self.size as i32).contains(&y) {
                    let d = dx.abs().max(dy.abs());
                    self.set(x as usize, y as usize, d != 2 && d != 4);
                }
            }
        }
    }
}

/// GF(256) multiplication, modulo x^8 + x^4 + x^3 + x^2 + 1.
fn mul(x: u8, y: u8) -> u8 {
    let mut z: u16 = 0;
    for i in (0..8).rev() {
        z = (z << 1) ^ ((z >> 7) * 0x11d);
        z ^= u16::from((y >> i) & 1) * u16::from(x);
    }
    z as u8
}

/// The Reed-Solomon error-correction codewords of `data`.
fn ecc(data: &[u8], degree: usize) -> Vec<u8> {
    let mut divisor = vec![0u8; degree];
    divisor[degree - 1] = 1;
    let mut root = 1u8;
    for _ in 0..degree {
        for j in 0..degree {
            divisor[j] = mul(divisor[j], root);
            if j + 1 < degree {
                divisor[j] ^= divisor[j + 1];
            }
        }
        root = mul(root, 2);
    }
    let mut rem = vec![0u8; degree];
    for &b in data {
        let factor = b ^ rem[0];
        rem.remove(0);
        rem.push(0);
        for (r, g) in rem.iter_mut().zip(&divisor) {
            *r ^= mul(*g, factor);
        }
    }
    rem
}

/// The QR code of `text`, or None if it is longer than version 5 holds.
pub fn encode(text: &[u8]) -> Option<Code> {
    let version = BLOCKS.iter().position(|&(data, _)| text.len() + 2 <= data)? + 1;
    let (capacity, degree) = BLOCKS[version - 1];
    // Byte mode (0100), an 8-bit count, the bytes, a terminator, then pad bytes.
    let mut bits: Vec<bool> = Vec::new();
    let push = |bits: &mut Vec<bool>, v: u32, n: u32| (0..n).rev().for_each(|i| bits.push((v >> i) & 1 != 0));
    push(&mut bits, 0b0100, 4);
    push(&mut bits, text.len() as u32, 8);
    text.iter().for_each(|&b| push(&mut bits, u32::from(b), 8));
    let room = capacity as u32 * 8 - bits.len() as u32;
    push(&mut bits, 0, room.min(4));
    let mut data: Vec<u8> =
        bits.chunks(8).map(|c| c.iter().enumerate().fold(0, |a, (i, &b)| a | (u8::from(b) << (7 - i)))).collect();
    for pad in [0xec, 0x11].into_iter().cycle() {
        if data.len() >= capacity {
            break;
        }
        data.push(pad);
    }
    let ec = ecc(&data, degree);
    data.extend(ec);

    let size = 17 + 4 * version;
    let mut code = Code { size, dark: vec![false; size * size], function: vec![false; size * size] };
    for i in 0..size {
        code.set(6, i, i % 2 == 0);
        code.set(i, 6, i % 2 == 0);
    }
    let far = size as i32 - 4;
    code.finder(3, 3);
    code.finder(far, 3);
    code.finder(3, far);
    if version > 1 {
        let c = size - 7;
        for dy in 0..5 {
            for dx in 0..5 {
                let d = (dx as i32 - 2).abs().max((dy as i32 - 2).abs());
                code.set(c + dx - 2, c + dy - 2, d != 1);
            }
        }
    }
    // Format information: level L (01), mask 0, with its BCH code, twice.
    let format = 0b01_000u32;
    let mut rem = format;
    for _ in 0..10 {
        rem = (rem << 1) ^ ((rem >> 9) * 0x537);
    }
    let f = (format << 10 | rem) ^ 0x5412;
    let bit = |i: usize| (f >> i) & 1 != 0;
    for i in 0..=5 {
        code.set(8, i, bit(i));
    }
    code.set(8, 7, bit(6));
    code.set(8, 8, bit(7));
    code.set(7, 8, bit(8));
    for i in 9..15 {
        code.set(14 - i, 8, bit(i));
    }
    for i in 0..8 {
        code.set(size - 1 - i, 8, bit(i));
    }
    for i in 8..15 {
        code.set(8, size - 15 + i, bit(i));
    }
    code.set(8, size - 8, true);
    // The codewords, in two-column strips zigzagging up and down from the
    // right, skipping the vertical timing pattern; mask 0 on each.
    let mut i = 0;
    let mut right = size - 1;
    while right >= 1 {
        if right == 6 {
            right = 5;
        }
        for vert in 0..size {
            for j in 0..2 {
                let x = right - j;
                let y = if (right + 1) & 2 == 0 { size - 1 - vert } else { vert };
                if !code.function[y * size + x] {
                    let on = i < data.len() * 8 && (data[i / 8] >> (7 - i % 8)) & 1 != 0;
                    code.dark[y * size + x] = on ^ ((x + y) % 2 == 0);
                    i += 1;
                }
            }
        }
        if right < 2 {
            break;
        }
        right -= 2;
    }
    Some(code)
}

/// The code of `text` as terminal lines, two rows of modules per line, for
/// a light-on-dark terminal (light modules are drawn), with a quiet zone.
pub fn terminal(text: &str) -> Option<String> {
    let code = encode(text.as_bytes())?;
    let quiet = 2;
    let n = (code.size + 2 * quiet) as i32;
    let light = |x: i32, y: i32| {
        let (x, y) = (x - quiet as i32, y - quiet as i32);
        !(0..code.size as i32).contains(&x) || !(0..code.size as i32).contains(&y) || !code.dark(x as usize, y as usize)
    };
    let mut out = String::new();
    for y in (0..n).step_by(2) {
        for x in 0..n {
            out.push(match (light(x, y), y + 1 < n && light(x, y + 1)) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push('\n');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_correction_matches_the_standard_example() {
        // ISO/IEC 18004 annex I: "01234567" in version 1-M.
        let data = [0x10, 0x20, 0x0c, 0x56, 0x61, 0x80, 0xec, 0x11, 0xec, 0x11, 0xec, 0x11, 0xec, 0x11, 0xec, 0x11];
        assert_eq!(ecc(&data, 10), [0xa5, 0x24, 0xd4, 0xc1, 0xed, 0x36, 0xc7, 0x87, 0x2c, 0x55]);
    }

    #[test]
    fn an_address_fits_and_a_long_text_does_not() {
        let code = encode(b"http://192.168.100.200:8080/").unwrap();
        assert_eq!(code.size, 25, "version 2");
        // The three finders' corners are dark, the separator light.
        assert!(code.dark(0, 0) && code.dark(24, 0) && code.dark(0, 24) && !code.dark(7, 7));
        assert!(encode(&[b'x'; 107]).is_none());
        // Read back by zbarimg (zbar-tools) when it was written.
        let want = [
            0x1fc937f, 0x1047e41, 0x175d75d, 0x174e15d, 0x174435d, 0x1048e41, 0x1fd557f, 0x001dc00, 0x1df6cc4,
            0x1596c61, 0x0858177, 0x04829f2, 0x1141f6b, 0x05934e9, 0x175b5b7, 0x0a2dcea, 0x1752df8, 0x001251f,
            0x1fdc753, 0x1056f19, 0x1759df3, 0x1747394, 0x175ba99, 0x1051f9a, 0x1fd3563,
        ];
        let code = encode(b"http://192.0.2.2:45499/").unwrap();
        for (y, row) in want.iter().enumerate() {
            let got = (0..25).fold(0u32, |a, x| a << 1 | u32::from(code.dark(x, y)));
            assert_eq!(got, *row, "row {y}");
        }
        assert_eq!(terminal("http://10.0.0.1:8080/").unwrap().lines().count(), 15);
    }
}
