;; A wasi:http/proxy handler, as a core module that tests/wasi_http.rs makes
;; into a component (wit-component, with the wasi:http WIT that the pinned
;; wasmtime-wasi-http implements). It answers "hello from a wasi:http
;; component"; a path starting with /trap traps, one starting with /spin
;; never returns, one starting with /late never returns once it has set the
;; response, one starting with /grow grows its memory by 40 MiB first.
(module
  (import "wasi:http/types@0.2.12" "[constructor]fields" (func $fields_new (result i32)))
  (import "wasi:http/types@0.2.12" "[constructor]outgoing-response" (func $resp_new (param i32) (result i32)))
  (import "wasi:http/types@0.2.12" "[method]outgoing-response.body" (func $resp_body (param i32 i32)))
  (import "wasi:http/types@0.2.12" "[method]outgoing-body.write" (func $body_write (param i32 i32)))
  (import "wasi:http/types@0.2.12" "[static]outgoing-body.finish" (func $body_finish (param i32 i32 i32 i32)))
  (import "wasi:http/types@0.2.12" "[static]response-outparam.set" (func $set (param i32 i32 i32 i32 i64 i32 i32 i32 i32)))
  (import "wasi:io/streams@0.2.12" "[method]output-stream.blocking-write-and-flush" (func $write (param i32 i32 i32 i32)))
  (import "wasi:io/streams@0.2.12" "[resource-drop]output-stream" (func $drop_stream (param i32)))
  (import "wasi:http/types@0.2.12" "[method]incoming-request.path-with-query" (func $path (param i32 i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 8192))
  ;; The host's allocations (the path, a body chunk): a bump allocator, as
  ;; each request has an instance of its own.
  (func (export "cabi_realloc") (param i32 i32) (param $align i32) (param $size i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
                           (i32.sub (i32.const 0) (local.get $align))))
    (global.set $heap (i32.add (local.get $p) (local.get $size)))
    (block $fits
      (br_if $fits (i32.le_u (global.get $heap) (i32.shl (memory.size) (i32.const 16))))
      (drop (memory.grow (i32.add (i32.shr_u (i32.sub (global.get $heap) (i32.shl (memory.size) (i32.const 16)))
                                             (i32.const 16)) (i32.const 1)))))
    (local.get $p))
  (data (i32.const 1024) "hello from a wasi:http component\n")
  (func (export "wasi:http/incoming-handler@0.2.12#handle") (param $req i32) (param $out i32)
    (local $resp i32) (local $body i32) (local $stream i32) (local $late i32)
    ;; option<string>: tag at 0, the string at 4 and 8
    (call $path (local.get $req) (i32.const 256))
    (if (i32.and (i32.load8_u (i32.const 256)) (i32.ge_u (i32.load (i32.const 264)) (i32.const 5)))
      (then
        ;; "/tra" and "/spi", little-endian
        (if (i32.eq (i32.load (i32.load (i32.const 260))) (i32.const 0x6172742f)) (then unreachable))
        (if (i32.eq (i32.load (i32.load (i32.const 260))) (i32.const 0x6970732f)) (then (loop $ever (br $ever))))
        ;; "/lat": never returns once the response is set
        (local.set $late (i32.eq (i32.load (i32.load (i32.const 260))) (i32.const 0x74616c2f)))
        ;; "/gro": 40 MiB more linear memory first
        (if (i32.eq (i32.load (i32.load (i32.const 260))) (i32.const 0x6f72672f))
          (then (drop (memory.grow (i32.const 640)))))))
    (local.set $resp (call $resp_new (call $fields_new)))
    (call $resp_body (local.get $resp) (i32.const 256))
    (local.set $body (i32.load (i32.const 260)))
    (call $body_write (local.get $body) (i32.const 256))
    (local.set $stream (i32.load (i32.const 260)))
    ;; result<outgoing-response, error-code>, flattened: ok, the response
    (call $set (local.get $out) (i32.const 0) (local.get $resp)
      (i32.const 0) (i64.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))
    (if (local.get $late) (then (loop $ever (br $ever))))
    (call $write (local.get $stream) (i32.const 1024) (i32.const 33) (i32.const 256))
    (call $drop_stream (local.get $stream))
    (call $body_finish (local.get $body) (i32.const 0) (i32.const 0) (i32.const 256)))
)
