//! WASI preview 1's path calls, wrapped: each calls wasmtime-wasi's own,
//! and when cap-std refuses the path (EPERM), again with the path looked
//! up as the kernel would (see [`super`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use wasmtime::{Caller, Linker};
use wasmtime_wasi::p1::types::Errno;
use wasmtime_wasi::p1::wasi_snapshot_preview1 as p1;
use wiggle::GuestMemory;

use super::{Root, TooManyLinks};
use crate::linking::P1State;

const MODULE: &str = "wasi_snapshot_preview1";
/// WASI's lookupflags::symlink_follow.
const FOLLOW: i32 = 1;
/// WASI's oflags::creat and oflags::excl.
const CREAT: i32 = 1;
const EXCL: i32 = 4;

/// Where each directory fd's lookups start, and the root everything is
/// looked up in.
pub struct Lookups {
    root: Root,
    /// The root's preopen: where a call is made again.
    root_fd: i32,
    /// Directory fds (and any fd opened by path: a file's is never used)
    /// by the path, from the root, they were opened at; an entry goes
    /// with its fd's close.
    dirs: HashMap<i32, String>,
}

impl Lookups {
    /// `preopens` as WASI numbers them (from fd 3, in order), the root's
    /// among them.
    pub fn new(root: &Path, preopens: &[PathBuf]) -> Lookups {
        let dirs: HashMap<i32, String> =
            preopens.iter().enumerate().map(|(i, p)| (3 + i as i32, p.to_string_lossy().into_owned())).collect();
        let root_fd = dirs.iter().find(|(_, p)| p.as_str() == "/").map_or(3, |(fd, _)| *fd);
        Lookups { root: Root::new(root), root_fd, dirs }
    }

    /// `path` from directory fd `dirfd`, as [`Root::resolve`] looks it up.
    /// `None` when `dirfd` is not a directory fd this knows.
    fn resolve(&self, dirfd: i32, path: &[u8], follow: bool) -> Option<Result<Vec<u8>, Errno>> {
        let start = self.dirs.get(&dirfd)?;
        Some(self.root.resolve(start, path, follow).map_err(|TooManyLinks| Errno::Loop))
    }

    fn read_link(&self, path: &[u8]) -> Result<Vec<u8>, Errno> {
        self.root.read_link(path).map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT) => Errno::Noent,
            Some(libc::EINVAL) => Errno::Inval,
            Some(libc::ENOTDIR) => Errno::Notdir,
            Some(libc::EACCES) => Errno::Acces,
            Some(libc::ELOOP) => Errno::Loop,
            _ => Errno::Io,
        })
    }

    fn opened(&mut self, fd: i32, dirfd: i32, path: &[u8]) {
        if let Some(start) = self.dirs.get(&dirfd) {
            let at = super::opened_at(start, path);
            self.dirs.insert(fd, at);
        }
    }
}

/// A path argument of a call: the module's directory fd (`None` for a
/// string that is not looked up, a symlink's target) and string, and
/// whether its last component is followed.
#[derive(Clone, Copy)]
struct PathArg {
    dirfd: Option<i32>,
    ptr: i32,
    len: i32,
    follow: bool,
}

impl PathArg {
    fn at(dirfd: i32, ptr: i32, len: i32, follow: bool) -> PathArg {
        PathArg { dirfd: Some(dirfd), ptr, len, follow }
    }
}

/// Guest memory for a call made again: the looked-up paths, and room for
/// what the call writes back.
#[derive(Default)]
struct Scratch(Vec<u8>);

impl Scratch {
    fn put(&mut self, bytes: &[u8]) -> (i32, i32) {
        let at = self.room(bytes.len());
        self.0[at as usize..].copy_from_slice(bytes);
        (at, bytes.len() as i32)
    }

    /// `len` zeroed bytes, 8-aligned (a filestat's alignment).
    fn room(&mut self, len: usize) -> i32 {
        let at = self.0.len().next_multiple_of(8);
        self.0.resize(at + len, 0);
        at as i32
    }

    fn memory(&mut self) -> GuestMemory<'_> {
        GuestMemory::Unshared(&mut self.0)
    }

    /// Copy `len` bytes at `at` out to the module's memory at `to`.
    fn copy_out(&self, at: i32, len: usize, guest: &mut GuestMemory<'_>, to: i32) -> Result<(), Errno> {
        let bytes = &self.0[at as usize..at as usize + len];
        guest.copy_from_slice(bytes, wiggle::GuestPtr::new((to as u32, len as u32))).map_err(|_| Errno::Fault)
    }
}

/// What a call refused with `errno` is made again with.
enum Again {
    /// Not refused by cap-std, or not a lookup this can make: the answer
    /// stands.
    No,
    /// The lookup itself failed (too many links).
    Fails(Errno),
    /// The paths, looked up, in scratch memory: `(ptr, len)` of each, from
    /// the root preopen.
    With(Scratch, Vec<(i32, i32)>),
}

fn again(errno: i32, lookups: &Lookups, guest: &GuestMemory<'_>, args: &[PathArg]) -> Again {
    if errno != Errno::Perm as i32 {
        return Again::No;
    }
    let mut scratch = Scratch::default();
    let mut paths = Vec::new();
    for a in args {
        let Ok(path) = guest.to_vec(wiggle::GuestPtr::<[u8]>::new((a.ptr as u32, a.len as u32))) else {
            return Again::No;
        };
        let path = match a.dirfd.map(|fd| lookups.resolve(fd, &path, a.follow)) {
            None => path,
            Some(None) => return Again::No,
            Some(Some(Err(e))) => return Again::Fails(e),
            Some(Some(Ok(p))) => p,
        };
        paths.push(scratch.put(&path));
    }
    Again::With(scratch, paths)
}

/// The module's memory and the store's state, as wiggle's own glue takes
/// them.
fn guest<'a>(
    caller: &'a mut Caller<'_, P1State>,
    export: &'a Option<wasmtime::Extern>,
) -> wasmtime::Result<(GuestMemory<'a>, &'a mut P1State)> {
    use wasmtime::AsContextMut;
    use wasmtime_wasi::p1::wasi_snapshot_preview1::WasiSnapshotPreview1;
    let fuel = caller.as_context_mut().hostcall_fuel();
    let (memory, state) = match export {
        Some(wasmtime::Extern::Memory(m)) => {
            let (m, state) = m.data_and_store_mut(caller);
            (GuestMemory::Unshared(m), state)
        }
        Some(wasmtime::Extern::SharedMemory(m)) => (GuestMemory::Shared(m.data()), caller.data_mut()),
        _ => wasmtime::bail!("missing required memory export"),
    };
    state.wasi.set_hostcall_fuel(fuel);
    Ok((memory, state))
}

/// The path calls of WASI preview 1 (and fd_close and fd_renumber, which
/// end a directory fd's start path), in place of wasmtime-wasi's own: each
/// calls it, and again as above when cap-std refuses the path.
pub fn add_to_linker(linker: &mut Linker<P1State>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    linker.func_wrap_async(
        MODULE,
        "path_open",
        |mut caller: Caller<'_, P1State>,
         (fd, dirflags, ptr, len, oflags, base, inheriting, fdflags, ret): (
            i32,
            i32,
            i32,
            i32,
            i32,
            i64,
            i64,
            i32,
            i32,
        )| {
            Box::new(async move {
                let export = caller.get_export("memory");
                let (mut guest, state) = guest(&mut caller, &export)?;
                let first = p1::path_open(
                    &mut state.wasi,
                    &mut guest,
                    fd,
                    dirflags,
                    ptr,
                    len,
                    oflags,
                    base,
                    inheriting,
                    fdflags,
                    ret,
                )
                .await?;
                // O_CREAT|O_EXCL never follows the last link: it fails with EEXIST.
                let follow = dirflags & FOLLOW != 0 && oflags & (CREAT | EXCL) != CREAT | EXCL;
                let (errno, opened) = match again(first, &state.lookups, &guest, &[PathArg::at(fd, ptr, len, follow)]) {
                    Again::No => (first, None),
                    Again::Fails(e) => (e as i32, None),
                    Again::With(mut s, p) => {
                        let out = s.room(4);
                        let root = state.lookups.root_fd;
                        let errno = p1::path_open(
                            &mut state.wasi,
                            &mut s.memory(),
                            root,
                            dirflags,
                            p[0].0,
                            p[0].1,
                            oflags,
                            base,
                            inheriting,
                            fdflags,
                            out,
                        )
                        .await?;
                        match (errno, s.copy_out(out, 4, &mut guest, ret)) {
                            (0, Err(e)) => (e as i32, None),
                            (0, Ok(())) => {
                                let path = s.0[p[0].0 as usize..(p[0].0 + p[0].1) as usize].to_vec();
                                (0, Some((root, path)))
                            }
                            (errno, _) => (errno, None),
                        }
                    }
                };
                if errno == 0 {
                    let new_fd = guest.read(wiggle::GuestPtr::<i32>::new(ret as u32)).unwrap_or(-1);
                    let (from, path) = match opened {
                        Some(o) => o,
                        None => (
                            fd,
                            guest.to_vec(wiggle::GuestPtr::<[u8]>::new((ptr as u32, len as u32))).unwrap_or_default(),
                        ),
                    };
                    state.lookups.opened(new_fd, from, &path);
                }
                Ok(errno)
            })
        },
    )?;
    linker.func_wrap_async(
        MODULE,
        "path_filestat_get",
        |mut caller: Caller<'_, P1State>, (fd, flags, ptr, len, ret): (i32, i32, i32, i32, i32)| {
            Box::new(async move {
                let export = caller.get_export("memory");
                let (mut guest, state) = guest(&mut caller, &export)?;
                let first = p1::path_filestat_get(&mut state.wasi, &mut guest, fd, flags, ptr, len, ret).await?;
                Ok(match again(first, &state.lookups, &guest, &[PathArg::at(fd, ptr, len, flags & FOLLOW != 0)]) {
                    Again::No => first,
                    Again::Fails(e) => e as i32,
                    Again::With(mut s, p) => {
                        // A filestat: 64 bytes.
                        let out = s.room(64);
                        let root = state.lookups.root_fd;
                        match p1::path_filestat_get(&mut state.wasi, &mut s.memory(), root, flags, p[0].0, p[0].1, out)
                            .await?
                        {
                            0 => s.copy_out(out, 64, &mut guest, ret).map_or_else(|e| e as i32, |()| 0),
                            errno => errno,
                        }
                    }
                })
            })
        },
    )?;
    linker.func_wrap_async(
        MODULE,
        "path_filestat_set_times",
        |mut caller: Caller<'_, P1State>,
         (fd, flags, ptr, len, atim, mtim, set): (i32, i32, i32, i32, i64, i64, i32)| {
            Box::new(async move {
                let export = caller.get_export("memory");
                let (mut guest, state) = guest(&mut caller, &export)?;
                let first =
                    p1::path_filestat_set_times(&mut state.wasi, &mut guest, fd, flags, ptr, len, atim, mtim, set)
                        .await?;
                Ok(match again(first, &state.lookups, &guest, &[PathArg::at(fd, ptr, len, flags & FOLLOW != 0)]) {
                    Again::No => first,
                    Again::Fails(e) => e as i32,
                    Again::With(mut s, p) => {
                        let root = state.lookups.root_fd;
                        p1::path_filestat_set_times(
                            &mut state.wasi,
                            &mut s.memory(),
                            root,
                            flags,
                            p[0].0,
                            p[0].1,
                            atim,
                            mtim,
                            set,
                        )
                        .await?
                    }
                })
            })
        },
    )?;
    linker.func_wrap_async(
        MODULE,
        "path_readlink",
        |mut caller: Caller<'_, P1State>, (fd, ptr, len, buf, buf_len, ret): (i32, i32, i32, i32, i32, i32)| {
            Box::new(async move {
                let export = caller.get_export("memory");
                let (mut guest, state) = guest(&mut caller, &export)?;
                let first = p1::path_readlink(&mut state.wasi, &mut guest, fd, ptr, len, buf, buf_len, ret).await?;
                Ok(match again(first, &state.lookups, &guest, &[PathArg::at(fd, ptr, len, false)]) {
                    Again::No => first,
                    Again::Fails(e) => e as i32,
                    // cap-std also refuses to read an absolute target: the
                    // link, found, is read here (reading follows nothing).
                    Again::With(s, p) => match state.lookups.read_link(&s.0[p[0].0 as usize..][..p[0].1 as usize]) {
                        Err(e) => e as i32,
                        Ok(mut target) => {
                            target.truncate(buf_len as u32 as usize);
                            let n = (target.len() as u32).to_le_bytes();
                            let written = guest
                                .copy_from_slice(&target, wiggle::GuestPtr::new((buf as u32, target.len() as u32)))
                                .and_then(|()| guest.copy_from_slice(&n, wiggle::GuestPtr::new((ret as u32, 4))));
                            written.map_or(Errno::Fault as i32, |()| 0)
                        }
                    },
                })
            })
        },
    )?;
    for name in ["path_create_directory", "path_remove_directory", "path_unlink_file"] {
        linker.func_wrap_async(
            MODULE,
            name,
            move |mut caller: Caller<'_, P1State>, (fd, ptr, len): (i32, i32, i32)| {
                Box::new(async move {
                    let export = caller.get_export("memory");
                    let (mut guest, state) = guest(&mut caller, &export)?;
                    let call =
                        async |wasi: &mut wasmtime_wasi::p1::WasiP1Ctx, memory: &mut GuestMemory<'_>, fd, ptr, len| {
                            match name {
                                "path_create_directory" => p1::path_create_directory(wasi, memory, fd, ptr, len).await,
                                "path_remove_directory" => p1::path_remove_directory(wasi, memory, fd, ptr, len).await,
                                _ => p1::path_unlink_file(wasi, memory, fd, ptr, len).await,
                            }
                        };
                    let first = call(&mut state.wasi, &mut guest, fd, ptr, len).await?;
                    Ok(match again(first, &state.lookups, &guest, &[PathArg::at(fd, ptr, len, false)]) {
                        Again::No => first,
                        Again::Fails(e) => e as i32,
                        Again::With(mut s, p) => {
                            call(&mut state.wasi, &mut s.memory(), state.lookups.root_fd, p[0].0, p[0].1).await?
                        }
                    })
                })
            },
        )?;
    }
    linker.func_wrap_async(
        MODULE,
        "path_rename",
        |mut caller: Caller<'_, P1State>, (fd, ptr, len, new_fd, new_ptr, new_len): (i32, i32, i32, i32, i32, i32)| {
            Box::new(async move {
                let export = caller.get_export("memory");
                let (mut guest, state) = guest(&mut caller, &export)?;
                let first =
                    p1::path_rename(&mut state.wasi, &mut guest, fd, ptr, len, new_fd, new_ptr, new_len).await?;
                let args = [PathArg::at(fd, ptr, len, false), PathArg::at(new_fd, new_ptr, new_len, false)];
                Ok(match again(first, &state.lookups, &guest, &args) {
                    Again::No => first,
                    Again::Fails(e) => e as i32,
                    Again::With(mut s, p) => {
                        let root = state.lookups.root_fd;
                        p1::path_rename(&mut state.wasi, &mut s.memory(), root, p[0].0, p[0].1, root, p[1].0, p[1].1)
                            .await?
                    }
                })
            })
        },
    )?;
    linker.func_wrap_async(
        MODULE,
        "path_link",
        |mut caller: Caller<'_, P1State>,
         (fd, flags, ptr, len, new_fd, new_ptr, new_len): (i32, i32, i32, i32, i32, i32, i32)| {
            Box::new(async move {
                let export = caller.get_export("memory");
                let (mut guest, state) = guest(&mut caller, &export)?;
                let first =
                    p1::path_link(&mut state.wasi, &mut guest, fd, flags, ptr, len, new_fd, new_ptr, new_len).await?;
                let args =
                    [PathArg::at(fd, ptr, len, flags & FOLLOW != 0), PathArg::at(new_fd, new_ptr, new_len, false)];
                Ok(match again(first, &state.lookups, &guest, &args) {
                    Again::No => first,
                    Again::Fails(e) => e as i32,
                    Again::With(mut s, p) => {
                        let root = state.lookups.root_fd;
                        p1::path_link(
                            &mut state.wasi,
                            &mut s.memory(),
                            root,
                            flags,
                            p[0].0,
                            p[0].1,
                            root,
                            p[1].0,
                            p[1].1,
                        )
                        .await?
                    }
                })
            })
        },
    )?;
    linker.func_wrap_async(
        MODULE,
        "path_symlink",
        |mut caller: Caller<'_, P1State>, (ptr, len, fd, new_ptr, new_len): (i32, i32, i32, i32, i32)| {
            Box::new(async move {
                let export = caller.get_export("memory");
                let (mut guest, state) = guest(&mut caller, &export)?;
                let first = p1::path_symlink(&mut state.wasi, &mut guest, ptr, len, fd, new_ptr, new_len).await?;
                // The target is the link's content: kept as it is.
                let target = PathArg { dirfd: None, ptr, len, follow: false };
                Ok(match again(first, &state.lookups, &guest, &[target, PathArg::at(fd, new_ptr, new_len, false)]) {
                    Again::No => first,
                    Again::Fails(e) => e as i32,
                    Again::With(mut s, p) => {
                        let root = state.lookups.root_fd;
                        p1::path_symlink(&mut state.wasi, &mut s.memory(), p[0].0, p[0].1, root, p[1].0, p[1].1).await?
                    }
                })
            })
        },
    )?;
    linker.func_wrap_async(MODULE, "fd_close", |mut caller: Caller<'_, P1State>, (fd,): (i32,)| {
        Box::new(async move {
            let export = caller.get_export("memory");
            let (mut guest, state) = guest(&mut caller, &export)?;
            let errno = p1::fd_close(&mut state.wasi, &mut guest, fd).await?;
            if errno == 0 {
                state.lookups.dirs.remove(&fd);
            }
            Ok(errno)
        })
    })?;
    linker.func_wrap_async(MODULE, "fd_renumber", |mut caller: Caller<'_, P1State>, (fd, to): (i32, i32)| {
        Box::new(async move {
            let export = caller.get_export("memory");
            let (mut guest, state) = guest(&mut caller, &export)?;
            let errno = p1::fd_renumber(&mut state.wasi, &mut guest, fd, to).await?;
            if errno == 0 {
                match state.lookups.dirs.remove(&fd) {
                    Some(at) => state.lookups.dirs.insert(to, at),
                    None => state.lookups.dirs.remove(&to),
                };
            }
            Ok(errno)
        })
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::root;
    use super::*;

    #[test]
    fn directory_fds_remember_where_they_were_opened() {
        let d = root();
        let mut l = Lookups::new(d.path(), &[PathBuf::from("/"), PathBuf::from("/srv")]);
        assert_eq!(l.root_fd, 3);
        l.opened(9, 4, b"app");
        assert_eq!(l.resolve(9, b"etc/localtime", true), Some(Ok(b"usr/share/zone/UTC".to_vec())));
        l.opened(10, 9, b"/etc");
        assert_eq!(l.resolve(10, b"localtime", true), Some(Ok(b"usr/share/zone/UTC".to_vec())));
        assert_eq!(l.resolve(11, b"x", true), None, "an fd it does not know is not looked up");
        assert_eq!(l.read_link(b"etc"), Err(Errno::Inval));
    }
}
