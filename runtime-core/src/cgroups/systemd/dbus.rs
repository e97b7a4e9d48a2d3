//! A small D-Bus client: enough to call systemd's manager on its private
//! socket (`/run/systemd/private`, a peer-to-peer connection: no bus
//! daemon, no Hello) and to wait for the signals it sends there.
//!
//! Messages are little-endian, authentication is SASL EXTERNAL (the
//! kernel vouches for our uid), and no fds are passed. The writer covers
//! the types systemd's calls take; the reader those its replies and job
//! signals carry.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

const METHOD_CALL: u8 = 1;
const METHOD_RETURN: u8 = 2;
const ERROR: u8 = 3;
pub const SIGNAL: u8 = 4;

/// Header field codes.
const F_PATH: u8 = 1;
const F_INTERFACE: u8 = 2;
const F_MEMBER: u8 = 3;
const F_ERROR_NAME: u8 = 4;
const F_REPLY_SERIAL: u8 = 5;
const F_DESTINATION: u8 = 6;
const F_SIGNATURE: u8 = 8;

/// A whole message must fit in this (the spec's limit is 128 MiB; systemd's
/// replies to our calls are small).
const MAX_MESSAGE: usize = 1 << 24;

/// How long a call (or the authentication) may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// What went wrong with a call: the transport, or the peer said no.
#[derive(Debug)]
pub enum CallError {
    Io(io::Error),
    /// An error reply: its name (`org.freedesktop.systemd1.NoSuchUnit`)
    /// and message.
    Remote {
        name: String,
        message: String,
    },
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Io(e) => write!(f, "{e}"),
            CallError::Remote { name, message } => write!(f, "{message} ({name})"),
        }
    }
}

impl From<io::Error> for CallError {
    fn from(e: io::Error) -> Self {
        CallError::Io(e)
    }
}

/// A value carried in a variant (`v`): the property types systemd takes.
#[derive(Debug, Clone, PartialEq)]
pub enum Variant {
    Bool(bool),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    Str(String),
    /// `au`
    U32s(Vec<u32>),
    /// `ay`
    Bytes(Vec<u8>),
    /// `as`
    Strs(Vec<String>),
}

impl Variant {
    fn signature(&self) -> &'static str {
        match self {
            Variant::Bool(_) => "b",
            Variant::I32(_) => "i",
            Variant::U32(_) => "u",
            Variant::I64(_) => "x",
            Variant::U64(_) => "t",
            Variant::Str(_) => "s",
            Variant::U32s(_) => "au",
            Variant::Bytes(_) => "ay",
            Variant::Strs(_) => "as",
        }
    }
}

/// Marshals a message body (or header), keeping D-Bus alignment, which
/// is counted from the start of the message: bodies start 8-aligned, so
/// a body written on its own aligns the same.
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    fn align(&mut self, n: usize) {
        while !self.buf.len().is_multiple_of(n) {
            self.buf.push(0);
        }
    }

    pub fn byte(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub fn bool(&mut self, v: bool) {
        self.u32(u32::from(v));
    }

    pub fn u32(&mut self, v: u32) {
        self.align(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn u64(&mut self, v: u64) {
        self.align(8);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// `s` and `o`.
    pub fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    /// `g`
    pub fn signature(&mut self, s: &str) {
        self.buf.push(s.len() as u8);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    /// An array whose elements align to `elem_align`; `items` writes them.
    pub fn array(&mut self, elem_align: usize, items: impl FnOnce(&mut Writer)) {
        self.align(4);
        let len_at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        self.align(elem_align);
        let start = self.buf.len();
        items(self);
        let len = (self.buf.len() - start) as u32;
        self.buf[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
    }

    /// A struct (or dict entry): 8-aligned.
    pub fn structure(&mut self, fields: impl FnOnce(&mut Writer)) {
        self.align(8);
        fields(self);
    }

    pub fn variant(&mut self, v: &Variant) {
        self.signature(v.signature());
        match v {
            Variant::Bool(b) => self.bool(*b),
            Variant::I32(n) => self.u32(*n as u32),
            Variant::U32(n) => self.u32(*n),
            Variant::I64(n) => self.u64(*n as u64),
            Variant::U64(n) => self.u64(*n),
            Variant::Str(s) => self.str(s),
            Variant::U32s(list) => self.array(4, |w| list.iter().for_each(|n| w.u32(*n))),
            Variant::Bytes(bytes) => self.array(1, |w| w.buf.extend_from_slice(bytes)),
            Variant::Strs(list) => self.array(4, |w| list.iter().for_each(|s| w.str(s))),
        }
    }

    /// `a(sv)`: systemd's unit properties.
    pub fn properties(&mut self, props: &[(String, Variant)]) {
        self.array(8, |w| {
            for (name, value) in props {
                w.structure(|w| {
                    w.str(name);
                    w.variant(value);
                });
            }
        });
    }
}

/// Reads a message body with the same alignment rules.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    fn take(&mut self, n: usize) -> io::Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len()).ok_or_else(|| bad("value past the end"))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn align(&mut self, n: usize) -> io::Result<()> {
        let pad = (n - self.pos % n) % n;
        self.take(pad).map(|_| ())
    }

    pub fn byte(&mut self) -> io::Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub fn u32(&mut self) -> io::Result<u32> {
        self.align(4)?;
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    /// `s` and `o`.
    pub fn str(&mut self) -> io::Result<String> {
        let len = self.u32()? as usize;
        let bytes = self.take(len)?;
        self.take(1)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| bad("a string is not UTF-8"))
    }

    /// `g`
    pub fn signature(&mut self) -> io::Result<String> {
        let len = self.byte()? as usize;
        let bytes = self.take(len)?;
        self.take(1)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| bad("a signature is not UTF-8"))
    }
}

/// A message read off the connection.
#[derive(Debug, Default)]
pub struct Message {
    pub kind: u8,
    pub serial: u32,
    pub reply_serial: Option<u32>,
    pub path: String,
    pub interface: String,
    pub member: String,
    pub error_name: String,
    pub signature: String,
    pub body: Vec<u8>,
}

impl Message {
    pub fn reader(&self) -> Reader<'_> {
        Reader::new(&self.body)
    }

    /// Parse one whole message (the fixed header says how long it is).
    fn parse(raw: &[u8]) -> io::Result<Message> {
        let mut r = Reader::new(raw);
        if r.byte()? != b'l' {
            return Err(bad("a big-endian message (only little-endian is read)"));
        }
        let mut msg = Message { kind: r.byte()?, ..Message::default() };
        let _flags = r.byte()?;
        let _version = r.byte()?;
        let body_len = r.u32()? as usize;
        msg.serial = r.u32()?;
        let fields_len = r.u32()? as usize;
        let fields_end = r.pos + fields_len;
        while r.pos < fields_end {
            r.align(8)?;
            let code = r.byte()?;
            let sig = r.signature()?;
            match (code, sig.as_str()) {
                (F_PATH, "o") => msg.path = r.str()?,
                (F_INTERFACE, "s") => msg.interface = r.str()?,
                (F_MEMBER, "s") => msg.member = r.str()?,
                (F_ERROR_NAME, "s") => msg.error_name = r.str()?,
                (F_REPLY_SERIAL, "u") => msg.reply_serial = Some(r.u32()?),
                (F_SIGNATURE, "g") => msg.signature = r.signature()?,
                (_, "s" | "o") => drop(r.str()?),
                (_, "u") => drop(r.u32()?),
                (_, "g") => drop(r.signature()?),
                _ => return Err(bad(&format!("header field {code} of type '{sig}'"))),
            }
        }
        r.align(8)?;
        msg.body = r.take(body_len)?.to_vec();
        Ok(msg)
    }
}

/// One connection, authenticated.
pub struct Connection {
    stream: BufReader<UnixStream>,
    serial: u32,
    /// Signals that arrived while a reply was awaited.
    pending: Vec<Message>,
}

impl Connection {
    /// Connect to a socket and authenticate as our effective uid.
    pub fn connect(path: &Path, uid: u32) -> io::Result<Connection> {
        let stream = UnixStream::connect(path)?;
        stream.set_read_timeout(Some(CALL_TIMEOUT))?;
        let mut stream = BufReader::new(stream);
        let hex_uid: String = uid.to_string().bytes().map(|b| format!("{b:02x}")).collect();
        // BEGIN goes with AUTH, as sd-bus clients send it: systemd's server
        // then takes both in one read, and our first message arrives on
        // its own. (Sent together with BEGIN, after the OK, a message can
        // sit unread in systemd's buffer until more data comes.)
        stream.get_mut().write_all(format!("\0AUTH EXTERNAL {hex_uid}\r\nBEGIN\r\n").as_bytes())?;
        let mut line = String::new();
        stream.read_line(&mut line)?;
        if !line.starts_with("OK ") {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("authentication refused: {}", line.trim_end()),
            ));
        }
        Ok(Connection { stream, serial: 0, pending: Vec::new() })
    }

    /// Call a method and wait for its reply: its body on success.
    pub fn call(
        &mut self,
        dest: &str,
        path: &str,
        interface: &str,
        member: &str,
        signature: &str,
        body: &[u8],
    ) -> Result<Message, CallError> {
        self.serial += 1;
        let serial = self.serial;
        self.stream.get_ref().set_read_timeout(Some(CALL_TIMEOUT))?;
        let mut w = Writer::default();
        w.byte(b'l');
        w.byte(METHOD_CALL);
        w.byte(0);
        w.byte(1);
        w.u32(body.len() as u32);
        w.u32(serial);
        w.array(8, |w| {
            let field = |w: &mut Writer, code: u8, sig: &str, value: &str| {
                w.structure(|w| {
                    w.byte(code);
                    w.signature(sig);
                    if sig == "g" { w.signature(value) } else { w.str(value) }
                })
            };
            field(w, F_PATH, "o", path);
            field(w, F_INTERFACE, "s", interface);
            field(w, F_MEMBER, "s", member);
            field(w, F_DESTINATION, "s", dest);
            if !signature.is_empty() {
                field(w, F_SIGNATURE, "g", signature);
            }
        });
        w.align(8);
        w.buf.extend_from_slice(body);
        self.stream.get_mut().write_all(&w.buf)?;
        let mut seen: Vec<String> = Vec::new();
        loop {
            let msg = self.read_message().map_err(|e| {
                let seen = if seen.is_empty() { "nothing".to_string() } else { seen.join(", ") };
                io::Error::new(e.kind(), format!("no reply to {member} (got {seen} meanwhile): {e}"))
            })?;
            seen.push(format!("{}#{}:{}", msg.kind, msg.serial, msg.member));
            match msg.kind {
                METHOD_RETURN if msg.reply_serial == Some(serial) => return Ok(msg),
                ERROR if msg.reply_serial == Some(serial) => {
                    let message = if msg.signature.starts_with('s') { msg.reader().str()? } else { String::new() };
                    return Err(CallError::Remote { name: msg.error_name, message });
                }
                SIGNAL => self.pending.push(msg),
                _ => {}
            }
        }
    }

    /// Wait until `wanted` picks a signal (one seen earlier counts), up to
    /// `deadline`.
    pub fn wait_signal(&mut self, deadline: Instant, mut wanted: impl FnMut(&Message) -> bool) -> io::Result<Message> {
        if let Some(i) = self.pending.iter().position(&mut wanted) {
            return Ok(self.pending.swap_remove(i));
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::from_raw_os_error(libc::ETIMEDOUT));
            }
            self.stream.get_ref().set_read_timeout(Some(left))?;
            let msg = self.read_message()?;
            if msg.kind == SIGNAL && wanted(&msg) {
                return Ok(msg);
            }
        }
    }

    fn read_message(&mut self) -> io::Result<Message> {
        let mut fixed = [0u8; 16];
        self.stream.read_exact(&mut fixed)?;
        let body_len = u32::from_le_bytes(fixed[4..8].try_into().expect("4 bytes")) as usize;
        let fields_len = u32::from_le_bytes(fixed[12..16].try_into().expect("4 bytes")) as usize;
        let total = (16 + fields_len).next_multiple_of(8) + body_len;
        if fixed[0] != b'l' || total > MAX_MESSAGE {
            return Err(bad("a message this client cannot read"));
        }
        let mut raw = fixed.to_vec();
        raw.resize(total, 0);
        self.stream.read_exact(&mut raw[16..])?;
        let msg = Message::parse(&raw)?;
        crate::log::debug(&format!(
            "D-Bus: got type {} serial {} reply to {:?} {}.{} ({} bytes)",
            msg.kind,
            msg.serial,
            msg.reply_serial,
            msg.interface,
            msg.member,
            raw.len()
        ));
        Ok(msg)
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("D-Bus: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_marshal_with_alignment() {
        let mut w = Writer::default();
        w.str("a");
        w.properties(&[("T".into(), Variant::U64(7)), ("B".into(), Variant::Bool(true))]);
        let expect: Vec<u8> = [
            &[1, 0, 0, 0, b'a', 0][..],
            &[0, 0], // pad to 4 for the array length
            &[40, 0, 0, 0],
            &[0, 0, 0, 0], // pad to 8 for the first struct (not counted)
            // first struct at 16
            &[1, 0, 0, 0, b'T', 0, 1, b't', 0, 0, 0, 0, 0, 0, 0, 0],
            &[7, 0, 0, 0, 0, 0, 0, 0],
            // second struct at 40
            &[1, 0, 0, 0, b'B', 0, 1, b'b', 0, 0, 0, 0],
            &[1, 0, 0, 0],
        ]
        .concat();
        assert_eq!(w.buf, expect);
    }

    #[test]
    fn a_marshalled_message_parses_back() {
        let mut body = Writer::default();
        body.u32(9);
        body.str("/org/freedesktop/systemd1/job/9");
        let mut w = Writer::default();
        for b in [b'l', SIGNAL, 0, 1] {
            w.byte(b);
        }
        w.u32(body.buf.len() as u32);
        w.u32(3);
        w.array(8, |w| {
            w.structure(|w| {
                w.byte(F_MEMBER);
                w.signature("s");
                w.str("JobRemoved");
            });
            w.structure(|w| {
                w.byte(F_SIGNATURE);
                w.signature("g");
                w.signature("uo");
            });
        });
        w.align(8);
        w.buf.extend_from_slice(&body.buf);
        let msg = Message::parse(&w.buf).unwrap();
        assert_eq!(
            (msg.kind, msg.serial, msg.member.as_str(), msg.signature.as_str()),
            (SIGNAL, 3, "JobRemoved", "uo")
        );
        let mut r = msg.reader();
        assert_eq!(r.u32().unwrap(), 9);
        assert_eq!(r.str().unwrap(), "/org/freedesktop/systemd1/job/9");
        assert!(r.u32().is_err(), "reading past the body fails");
    }
}
