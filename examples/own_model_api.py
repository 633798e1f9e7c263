"""Tune your own Keras model through the Python API, on scikit-learn's breast-cancer data.

The README's quick start, line for line (imports one a line here, as the linter wants). Run it,
then watch it live with `streamlit run app.py` (Live study page) from the same folder: both use
./tuning_lab.db, or $TUNING_LAB_STORAGE. Running it again resumes the study.
"""

import keras
from sklearn.datasets import load_breast_cancer

import tuning_core

x, y = load_breast_cancer(return_X_y=True)
x = (x - x.mean(axis=0)) / x.std(axis=0)

def build_model(hp):  # hp: this trial's values, by the names in space
    model = keras.Sequential([keras.Input(shape=(30,)),
        keras.layers.Dense(hp["units"], activation="relu"), keras.layers.Dropout(hp["dropout"]),
        keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.Adam(hp["learning_rate"]),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model

study = tuning_core.create_study("breast-cancer", budget=8, space={
    "learning_rate": (1e-4, 0.1, "log"), "units": (8, 128, "log"), "dropout": (0.0, 0.5)})
study.optimize_keras(build_model, x, y, epochs=5, validation_split=0.2)
print(study.best_params, study.best_value)
