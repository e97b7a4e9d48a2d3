;; A module that traps at once: `unreachable` in _start.
(module
  (func (export "_start") unreachable)
  (memory (export "memory") 1))
