"""Tune any Python function: scikit-learn's SGDClassifier, trained one epoch per partial_fit,
reporting each epoch's validation accuracy so that successive halving cuts weak trials early.

Run it, then open the study on the dashboard's Live study page (`streamlit run app.py` from the
same folder). The same objective runs from a spec file too, imported from beside it:
`python -m tuning_core run examples/plain_objective.json`.
"""

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import tuning_core

EPOCHS = 20
x, y = load_breast_cancer(return_X_y=True)
x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)
scaler = StandardScaler().fit(x_train)
x_train, x_val = scaler.transform(x_train), scaler.transform(x_val)


def objective(trial):
    model = SGDClassifier(
        loss=trial.params["loss"],
        alpha=trial.params["alpha"],
        learning_rate="constant",
        eta0=trial.params["eta0"],
        random_state=0,
    )
    for epoch in range(EPOCHS):
        model.partial_fit(x_train, y_train, classes=np.unique(y))
        accuracy = model.score(x_val, y_val)
        trial.report(epoch, {"val_accuracy": accuracy})
        if trial.should_prune():
            raise tuning_core.TrialPruned()
    return accuracy


if __name__ == "__main__":
    study = tuning_core.create_study(
        "sgd-breast-cancer",
        space={
            "loss": {"type": "choice", "values": ["hinge", "log_loss", "modified_huber"]},
            "alpha": {"type": "float", "low": 1e-6, "high": 1e-1, "log": True},
            "eta0": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
        },
        metric="val_accuracy",  # maximized, as accuracies are
        pruner="successive_halving",
        budget=30,
    )
    study.optimize(objective, epochs=EPOCHS)
    print("best:", study.best_params, study.best_value)
