"""Tables for Keras trials: a CSV file with a target column, or an .npz of 2-D feature arrays.

Nothing is transformed without being said. The preparation (standardising numeric columns,
one-hot encoding categorical ones, optional imputation) is fitted on the training split only
and kept as plain JSON parameters (``objective.preparation`` in the stored spec), so a resume,
a Dask worker and the exported script apply exactly the same thing; its ``summary`` lists
every step in one sentence. Bad data is refused in one sentence naming the column.

No pandas and no Keras here: the CSV is read with the standard library (so the loader runs in
the worker and the dashboard alike), and the arithmetic is numpy's.

One idea a module, re-exported here (``from tuning_core.training import tables`` is how the
rest of Tuning Lab reads them):

- ``table``: a table as read (:class:`Table`, :class:`TableColumn`) and the sentence helpers;
- ``csv_file``: reading a CSV safely (the memory limit first, UTF-8, typed columns);
- ``arrays``: 2-D arrays (an .npz's or the API's) as a table;
- ``reading``: which dataset is a table, and reading whichever kind it is;
- ``checks``: which columns can serve as the target and as features, or why not;
- ``split``: the training, validation and test rows;
- ``preparation``: fitting the preparation, its summary sentence, and applying it;
- ``from_spec``: the table a study's spec names, and the completed spec ``run`` stores.

``reports/source_bundle.py`` copies these functions into exported scripts by following their
names across these modules, so a definition keeps its comment lines right above it.
"""

from __future__ import annotations

from tuning_core.training.tables.arrays import npz_is_table, read_npz_table, table_from_arrays
from tuning_core.training.tables.checks import (
    MAX_CATEGORIES,
    NEAR_UNIQUE_MIN_ROWS,
    NEAR_UNIQUE_SHARE,
    column_problems,
)
from tuning_core.training.tables.csv_file import (
    BOOL_TEXT,
    BYTES_PER_CELL,
    DATASET_MEMORY_SHARE,
    MISSING_TEXT,
    SAMPLE_BYTES,
    check_csv_fits,
    csv_estimate,
    memory_limit_bytes,
    read_csv,
    table_from_csv_text,
)
from tuning_core.training.tables.from_spec import (
    class_balance,
    complete_table_spec,
    fit_objective_preparation,
    objective_is_table,
    prepare_objective_table,
)
from tuning_core.training.tables.preparation import (
    DIVERGENCE_FACTOR,
    PreparedTable,
    apply_preparation,
    fit_preparation,
    summary_sentence,
)
from tuning_core.training.tables.reading import is_table_path, names_table, read_table
from tuning_core.training.tables.split import split_indices
from tuning_core.training.tables.table import Table, TableColumn

__all__ = [
    "BOOL_TEXT",
    "BYTES_PER_CELL",
    "DATASET_MEMORY_SHARE",
    "DIVERGENCE_FACTOR",
    "MAX_CATEGORIES",
    "MISSING_TEXT",
    "NEAR_UNIQUE_MIN_ROWS",
    "NEAR_UNIQUE_SHARE",
    "SAMPLE_BYTES",
    "PreparedTable",
    "Table",
    "TableColumn",
    "apply_preparation",
    "check_csv_fits",
    "class_balance",
    "column_problems",
    "complete_table_spec",
    "csv_estimate",
    "fit_objective_preparation",
    "fit_preparation",
    "is_table_path",
    "memory_limit_bytes",
    "names_table",
    "npz_is_table",
    "objective_is_table",
    "prepare_objective_table",
    "read_csv",
    "read_npz_table",
    "read_table",
    "split_indices",
    "summary_sentence",
    "table_from_arrays",
    "table_from_csv_text",
]
