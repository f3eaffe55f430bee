//! Commands encoded straight into one RESP buffer (no per-command objects):
//! what `warm` writes and `inspect` measures with, a batch per round trip.

/// Append a decimal unsigned integer.
pub fn push_uint(out: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut n = digits.len();
    loop {
        n -= 1;
        digits[n] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[n..]);
}

/// Append a decimal integer.
pub fn push_int(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_uint(out, v.unsigned_abs());
}

/// A pipeline of commands, packed.
#[derive(Debug, Default)]
pub struct Packed {
    pub(crate) buf: Vec<u8>,
    commands: usize,
}

impl Packed {
    /// An empty pipeline with room for `bytes`.
    pub fn with_capacity(bytes: usize) -> Packed {
        Packed {
            buf: Vec::with_capacity(bytes),
            commands: 0,
        }
    }

    /// Commands so far (= replies to read).
    pub fn commands(&self) -> usize {
        self.commands
    }

    /// Bytes so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Start a command of `args` arguments (its name included); the
    /// arguments follow with [`Packed::arg`] / [`Packed::arg_uint`].
    pub fn start(&mut self, args: usize) -> &mut Self {
        self.buf.push(b'*');
        push_uint(&mut self.buf, args as u64);
        self.buf.extend_from_slice(b"\r\n");
        self.commands += 1;
        self
    }

    /// One argument as a bulk string; returns where its bytes are in the buffer.
    pub fn arg_at(&mut self, b: &[u8]) -> std::ops::Range<usize> {
        self.buf.push(b'$');
        push_uint(&mut self.buf, b.len() as u64);
        self.buf.extend_from_slice(b"\r\n");
        let start = self.buf.len();
        self.buf.extend_from_slice(b);
        self.buf.extend_from_slice(b"\r\n");
        start..start + b.len()
    }

    pub fn arg(&mut self, b: &[u8]) -> &mut Self {
        self.arg_at(b);
        self
    }

    pub fn arg_uint(&mut self, v: u64) -> &mut Self {
        let mut digits = Vec::with_capacity(20);
        push_uint(&mut digits, v);
        self.arg(&digits)
    }

    /// A whole command.
    pub fn command(&mut self, args: &[&[u8]]) -> &mut Self {
        self.start(args.len());
        for a in args {
            self.arg(a);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_commands_as_resp() {
        let mut p = Packed::default();
        p.command(&[b"TYPE", b"k:1"]);
        p.start(3).arg(b"PEXPIRE").arg(b"k").arg_uint(1500);
        assert_eq!(
            String::from_utf8_lossy(p.bytes()),
            "*2\r\n$4\r\nTYPE\r\n$3\r\nk:1\r\n*3\r\n$7\r\nPEXPIRE\r\n$1\r\nk\r\n$4\r\n1500\r\n"
        );
        assert_eq!(p.commands(), 2);
        // What redis-rs itself packs for the same commands.
        let mut rp = redis::pipe();
        rp.cmd("TYPE").arg("k:1");
        rp.cmd("PEXPIRE").arg("k").arg(1500);
        assert_eq!(p.bytes(), rp.get_packed_pipeline().as_slice());
    }

    #[test]
    fn integers_in_decimal() {
        let mut v = Vec::new();
        for n in [0, 7, -7, 1_000_000, i64::MIN, i64::MAX] {
            v.clear();
            push_int(&mut v, n);
            assert_eq!(String::from_utf8_lossy(&v), n.to_string());
        }
        v.clear();
        push_uint(&mut v, u64::MAX);
        assert_eq!(String::from_utf8_lossy(&v), u64::MAX.to_string());
    }
}
