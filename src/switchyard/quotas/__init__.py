"""Quota windows and fair cycling for upstream keys: declared rules (:mod:`.rules`), limits
learned from upstreams (:mod:`.learned`), the per-pool view the key pools consult
(:mod:`.tracker`) and its state backends (:mod:`.store`, :mod:`.redis_store`).

Import the modules themselves: this package's ``__init__`` stays empty so the configuration can
import :mod:`.rules` without pulling in the key pools."""
