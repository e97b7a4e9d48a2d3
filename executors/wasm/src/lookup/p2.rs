//! `wasi:filesystem`'s path methods, wrapped as [`super::p1`]'s calls are:
//! a component's, and a p1 module's through the adapter. Each calls
//! wasmtime-wasi's own, and when cap-std refuses the path
//! (`not-permitted`), again with the path looked up as the kernel would,
//! from a descriptor of the root the module never sees.
//!
//! A descriptor's handle is reused once it is dropped, which happens out
//! of sight of these wrappers: each directory's entry keeps the object's
//! metadata hash (device and inode), and is used only while its handle
//! still names that object.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystemCtxView};
use wasmtime_wasi::p2::FsResult;
use wasmtime_wasi::p2::bindings::filesystem::preopens::Host as _;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    DescriptorFlags, DescriptorStat, ErrorCode, HostDescriptor, MetadataHashValue, NewTimestamp, OpenFlags, PathFlags,
};

use super::{Root, TooManyLinks};
use crate::linking::P2State;

/// The WASI version wasmtime-wasi defines (and serves every 0.2 import by).
const TYPES: &str = "wasi:filesystem/types@0.2.12";
const PREOPENS: &str = "wasi:filesystem/preopens@0.2.12";

pub struct Lookups {
    root: Root,
    /// Each preopen's name and the path it is.
    preopens: Vec<(String, String)>,
    /// The root's preopen, opened for these wrappers alone: where a call
    /// is made again.
    root_dir: Option<u32>,
    /// Directory descriptors (and any opened by path: a file's is never
    /// used) by handle: the path they were opened at and the object's
    /// metadata hash.
    dirs: HashMap<u32, (String, (u64, u64))>,
}

impl Lookups {
    /// `preopens` as (directory, name), the root's among them.
    pub fn new(root: &Path, preopens: &[(PathBuf, String)]) -> Lookups {
        let preopens = preopens.iter().map(|(dir, name)| (name.clone(), dir.to_string_lossy().into_owned())).collect();
        Lookups { root: Root::new(root), preopens, root_dir: None, dirs: HashMap::new() }
    }
}

fn borrow(fd: &Resource<Descriptor>) -> Resource<Descriptor> {
    Resource::new_borrow(fd.rep())
}

/// wasmtime-wasi's filesystem view of the state, and the lookups beside it.
fn split(s: &mut P2State) -> (WasiFilesystemCtxView<'_>, &mut Lookups) {
    (WasiFilesystemCtxView { ctx: s.ctx.filesystem(), table: &mut s.table }, &mut s.lookups)
}

/// A method's result as the module receives it (a trap stays a trap).
fn wit<T>(r: FsResult<T>) -> wasmtime::Result<Result<T, ErrorCode>> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(e) => e.downcast().map(Err),
    }
}

async fn hash(view: &mut WasiFilesystemCtxView<'_>, fd: &Resource<Descriptor>) -> Option<(u64, u64)> {
    let h = view.metadata_hash(borrow(fd)).await.ok()?;
    Some((h.lower, h.upper))
}

/// The path `fd` was opened at, while its handle still names that object.
async fn start_of(s: &mut P2State, fd: &Resource<Descriptor>) -> Option<String> {
    let (mut view, lookups) = split(s);
    let (at, was) = lookups.dirs.get(&fd.rep())?.clone();
    (hash(&mut view, fd).await? == was).then_some(at)
}

/// Remember where the descriptor `opened` was opened: at `path` from
/// `fd`, or at `resolved` from the root.
async fn opened(
    s: &mut P2State,
    fd: &Resource<Descriptor>,
    path: &str,
    resolved: Option<&str>,
    opened: &Resource<Descriptor>,
) {
    let at = match resolved {
        Some(r) => super::opened_at("", r.as_bytes()),
        None => match start_of(s, fd).await {
            Some(start) => super::opened_at(&start, path.as_bytes()),
            None => return,
        },
    };
    let (mut view, lookups) = split(s);
    if let Some(h) = hash(&mut view, opened).await {
        lookups.dirs.insert(opened.rep(), (at, h));
    }
}

/// The root's preopen, opened the first time a call is made again.
async fn root_dir(s: &mut P2State) -> wasmtime::Result<Option<Resource<Descriptor>>> {
    if let Some(rep) = s.lookups.root_dir {
        return Ok(Some(Resource::new_borrow(rep)));
    }
    let (mut view, lookups) = split(s);
    for (dir, name) in view.get_directories()? {
        if name == "/" && lookups.root_dir.is_none() {
            lookups.root_dir = Some(dir.rep());
        } else {
            HostDescriptor::drop(&mut view, dir)?;
        }
    }
    Ok(s.lookups.root_dir.map(Resource::new_borrow))
}

/// What a refused call is made again with: the root's preopen and each
/// path looked up. `None` where this cannot look up (a descriptor it does
/// not know).
async fn again(
    s: &mut P2State,
    paths: &[(&Resource<Descriptor>, &str, bool)],
) -> wasmtime::Result<Option<Result<(Resource<Descriptor>, Vec<String>), ErrorCode>>> {
    let mut out = Vec::new();
    for (fd, path, follow) in paths {
        let Some(start) = start_of(s, fd).await else { return Ok(None) };
        match s.lookups.root.resolve(&start, path.as_bytes(), *follow) {
            Err(TooManyLinks) => return Ok(Some(Err(ErrorCode::Loop))),
            Ok(p) => match String::from_utf8(p) {
                Ok(p) => out.push(p),
                Err(_) => return Ok(None),
            },
        }
    }
    Ok(root_dir(s).await?.map(|root| Ok((root, out))))
}

/// Has cap-std refused the path?
fn refused<T>(r: &Result<T, ErrorCode>) -> bool {
    matches!(r, Err(ErrorCode::NotPermitted))
}

/// The path methods of `wasi:filesystem/types`, and `get-directories`
/// (which names the preopens' descriptors), in place of wasmtime-wasi's.
pub fn add_to_linker(linker: &mut Linker<P2State>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    linker.instance(PREOPENS)?.func_wrap_async("get-directories", |mut store, (): ()| {
        Box::new(async move {
            let (mut view, lookups) = split(store.data_mut());
            let dirs = view.get_directories()?;
            for (dir, name) in &dirs {
                if let Some((_, at)) = lookups.preopens.iter().find(|(n, _)| n == name)
                    && let Some(h) = hash(&mut view, dir).await
                {
                    lookups.dirs.insert(dir.rep(), (at.clone(), h));
                }
            }
            Ok((dirs,))
        })
    })?;
    let mut types = linker.instance(TYPES)?;
    types.func_wrap_async(
        "[method]descriptor.open-at",
        |mut store, (fd, pflags, path, oflags, flags): (Resource<Descriptor>, PathFlags, String, OpenFlags, DescriptorFlags)| {
            Box::new(async move {
                let s = store.data_mut();
                let first = wit(split(s).0.open_at(borrow(&fd), pflags, path.clone(), oflags, flags).await)?;
                if let Ok(new) = &first {
                    opened(s, &fd, &path, None, new).await;
                }
                if !refused(&first) {
                    return Ok((first,));
                }
                // O_CREAT|O_EXCL never follows the last link: it fails with EEXIST.
                let follow = pflags.contains(PathFlags::SYMLINK_FOLLOW)
                    && !oflags.contains(OpenFlags::CREATE | OpenFlags::EXCLUSIVE);
                Ok((match again(s, &[(&fd, &path, follow)]).await? {
                    None => first,
                    Some(Err(e)) => Err(e),
                    Some(Ok((root, p))) => {
                        let r = wit(split(s).0.open_at(root, pflags, p[0].clone(), oflags, flags).await)?;
                        if let Ok(new) = &r {
                            opened(s, &fd, &path, Some(&p[0]), new).await;
                        }
                        r
                    }
                },))
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.stat-at",
        |mut store, (fd, pflags, path): (Resource<Descriptor>, PathFlags, String)| {
            Box::new(async move {
                let s = store.data_mut();
                let first: Result<DescriptorStat, _> =
                    wit(split(s).0.stat_at(borrow(&fd), pflags, path.clone()).await)?;
                if !refused(&first) {
                    return Ok((first,));
                }
                let follow = pflags.contains(PathFlags::SYMLINK_FOLLOW);
                Ok((match again(s, &[(&fd, &path, follow)]).await? {
                    None => first,
                    Some(Err(e)) => Err(e),
                    Some(Ok((root, p))) => wit(split(s).0.stat_at(root, pflags, p[0].clone()).await)?,
                },))
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.metadata-hash-at",
        |mut store, (fd, pflags, path): (Resource<Descriptor>, PathFlags, String)| {
            Box::new(async move {
                let s = store.data_mut();
                let first: Result<MetadataHashValue, _> =
                    wit(split(s).0.metadata_hash_at(borrow(&fd), pflags, path.clone()).await)?;
                if !refused(&first) {
                    return Ok((first,));
                }
                let follow = pflags.contains(PathFlags::SYMLINK_FOLLOW);
                Ok((match again(s, &[(&fd, &path, follow)]).await? {
                    None => first,
                    Some(Err(e)) => Err(e),
                    Some(Ok((root, p))) => wit(split(s).0.metadata_hash_at(root, pflags, p[0].clone()).await)?,
                },))
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.set-times-at",
        |mut store, (fd, pflags, path, atim, mtim): (Resource<Descriptor>, PathFlags, String, NewTimestamp, NewTimestamp)| {
            Box::new(async move {
                let s = store.data_mut();
                let first = wit(split(s).0.set_times_at(borrow(&fd), pflags, path.clone(), atim, mtim).await)?;
                if !refused(&first) {
                    return Ok((first,));
                }
                let follow = pflags.contains(PathFlags::SYMLINK_FOLLOW);
                Ok((match again(s, &[(&fd, &path, follow)]).await? {
                    None => first,
                    Some(Err(e)) => Err(e),
                    Some(Ok((root, p))) => wit(split(s).0.set_times_at(root, pflags, p[0].clone(), atim, mtim).await)?,
                },))
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.readlink-at",
        |mut store, (fd, path): (Resource<Descriptor>, String)| {
            Box::new(async move {
                let s = store.data_mut();
                let first = wit(split(s).0.readlink_at(borrow(&fd), path.clone()).await)?;
                if !refused(&first) {
                    return Ok((first,));
                }
                Ok((match again(s, &[(&fd, &path, false)]).await? {
                    None => first,
                    Some(Err(e)) => Err(e),
                    // cap-std also refuses to read an absolute target: the
                    // link, found, is read here (reading follows nothing).
                    Some(Ok((_, p))) => match s.lookups.root.read_link(p[0].as_bytes()) {
                        Ok(target) => String::from_utf8(target).map_err(|_| ErrorCode::IllegalByteSequence),
                        Err(e) => Err(ErrorCode::from(&e)),
                    },
                },))
            })
        },
    )?;
    for name in ["create-directory-at", "remove-directory-at", "unlink-file-at"] {
        types.func_wrap_async(
            &format!("[method]descriptor.{name}"),
            move |mut store, (fd, path): (Resource<Descriptor>, String)| {
                Box::new(async move {
                    let s = store.data_mut();
                    let call =
                        async |view: &mut WasiFilesystemCtxView<'_>, fd: Resource<Descriptor>, path: String| match name
                        {
                            "create-directory-at" => view.create_directory_at(fd, path).await,
                            "remove-directory-at" => view.remove_directory_at(fd, path).await,
                            _ => view.unlink_file_at(fd, path).await,
                        };
                    let first = wit(call(&mut split(s).0, borrow(&fd), path.clone()).await)?;
                    if !refused(&first) {
                        return Ok((first,));
                    }
                    Ok((match again(s, &[(&fd, &path, false)]).await? {
                        None => first,
                        Some(Err(e)) => Err(e),
                        Some(Ok((root, p))) => wit(call(&mut split(s).0, root, p[0].clone()).await)?,
                    },))
                })
            },
        )?;
    }
    types.func_wrap_async(
        "[method]descriptor.rename-at",
        |mut store, (fd, old, new_fd, new): (Resource<Descriptor>, String, Resource<Descriptor>, String)| {
            Box::new(async move {
                let s = store.data_mut();
                let first = wit(split(s).0.rename_at(borrow(&fd), old.clone(), borrow(&new_fd), new.clone()).await)?;
                if !refused(&first) {
                    return Ok((first,));
                }
                Ok((match again(s, &[(&fd, &old, false), (&new_fd, &new, false)]).await? {
                    None => first,
                    Some(Err(e)) => Err(e),
                    Some(Ok((root, p))) => {
                        wit(split(s).0.rename_at(borrow(&root), p[0].clone(), root, p[1].clone()).await)?
                    }
                },))
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.link-at",
        |mut store,
         (fd, pflags, old, new_fd, new): (Resource<Descriptor>, PathFlags, String, Resource<Descriptor>, String)| {
            Box::new(async move {
                let s = store.data_mut();
                let first =
                    wit(split(s).0.link_at(borrow(&fd), pflags, old.clone(), borrow(&new_fd), new.clone()).await)?;
                if !refused(&first) {
                    return Ok((first,));
                }
                let follow = pflags.contains(PathFlags::SYMLINK_FOLLOW);
                Ok((match again(s, &[(&fd, &old, follow), (&new_fd, &new, false)]).await? {
                    None => first,
                    Some(Err(e)) => Err(e),
                    Some(Ok((root, p))) => {
                        wit(split(s).0.link_at(borrow(&root), pflags, p[0].clone(), root, p[1].clone()).await)?
                    }
                },))
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.symlink-at",
        |mut store, (fd, target, new): (Resource<Descriptor>, String, String)| {
            Box::new(async move {
                let s = store.data_mut();
                let first = wit(split(s).0.symlink_at(borrow(&fd), target.clone(), new.clone()).await)?;
                if !refused(&first) {
                    return Ok((first,));
                }
                // The target is the link's content: kept as it is.
                Ok((match again(s, &[(&fd, &new, false)]).await? {
                    None => first,
                    Some(Err(e)) => Err(e),
                    Some(Ok((root, p))) => wit(split(s).0.symlink_at(root, target, p[0].clone()).await)?,
                },))
            })
        },
    )?;
    Ok(())
}
