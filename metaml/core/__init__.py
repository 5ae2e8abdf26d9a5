"""The core: metaml's typed data model, which every other layer reads and nothing here imports.

``records`` holds what a store keeps (studies, trials, curve points, events, proposals);
``view`` an immutable picture of one study that optimizers decide on and readers query.
Only the standard library is imported here, so that any layer may depend on the core.
"""
