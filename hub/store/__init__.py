"""The ledger: Piccolo tables, migrations, and the one store module (:mod:`hub.store.queries`)."""
