"""The reviewed list of types a skops artefact may contain.

skops refuses to construct any type not listed here. Each entry is a class whose
construction from a skops file runs no user code. Extend it only after reviewing the new type
(``skops.io.get_untrusted_types(file=...)`` lists what a file needs).
"""

TRUSTED_SKOPS_TYPES: frozenset[str] = frozenset(
    {
        # RandomForestClassifier (the default model) and its parts
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.tree._classes.DecisionTreeClassifier",
        "sklearn.tree._tree.Tree",
        # LogisticRegression (MODEL=logreg) and the pipeline/scaler around it
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.pipeline.Pipeline",
        "sklearn.preprocessing._data.StandardScaler",
        # numpy scalar and dtype plumbing skops stores explicitly
        "numpy.dtype",
        "numpy.ndarray",
        "numpy.float64",
        "numpy.int64",
        "builtins.int",
        "builtins.float",
    }
)
