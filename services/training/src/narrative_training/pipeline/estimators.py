"""The scikit-learn pipelines for each model type.

Every pipeline is a ColumnTransformer over named columns followed by one
estimator, so skl2onnx maps each column to its own typed ONNX input.
Only linear models and neural networks get a StandardScaler: inside ONNX it
runs in float32 and moves values across tree split thresholds, and trees do
not need it. Gradient boosting is GradientBoosting*, not HistGradientBoosting*,
which skl2onnx 1.20 does not convert.
"""

from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from narrative_training.pipeline.columns import FeaturePlan
from narrative_training.pipeline.targets import CLASSIFICATION, REGRESSION

LOGISTIC_REGRESSION = "logistic_regression"
LINEAR_REGRESSION = "linear_regression"
RANDOM_FOREST = "random_forest"
GRADIENT_BOOSTING = "gradient_boosting"
NEURAL_NETWORK = "neural_network"
AUTO = "auto"

MODEL_TYPES = {
    CLASSIFICATION: (
        LOGISTIC_REGRESSION,
        RANDOM_FOREST,
        GRADIENT_BOOSTING,
        NEURAL_NETWORK,
    ),
    REGRESSION: (LINEAR_REGRESSION, RANDOM_FOREST, GRADIENT_BOOSTING, NEURAL_NETWORK),
}
# The candidates `auto` compares by cross-validation.
AUTO_CANDIDATES = {
    CLASSIFICATION: (LOGISTIC_REGRESSION, RANDOM_FOREST, GRADIENT_BOOSTING),
    REGRESSION: (LINEAR_REGRESSION, RANDOM_FOREST, GRADIENT_BOOSTING),
}
SCALED_MODELS = frozenset({LOGISTIC_REGRESSION, LINEAR_REGRESSION, NEURAL_NETWORK})
RANDOM_STATE = 42


def fits_problem(model_type: str, problem_type: str) -> bool:
    return model_type == AUTO or model_type in MODEL_TYPES[problem_type]


def build_estimator(model_type: str, problem_type: str, n_jobs: int):
    classification = problem_type == CLASSIFICATION
    if model_type == LOGISTIC_REGRESSION:
        return LogisticRegression(max_iter=2000)
    if model_type == LINEAR_REGRESSION:
        # Ridge with a light penalty: plain least squares is unstable when
        # one-hot columns are nearly collinear.
        return Ridge(alpha=1.0)
    if model_type == RANDOM_FOREST:
        cls = RandomForestClassifier if classification else RandomForestRegressor
        return cls(
            # Leaves of at least 10 rows scored as well as smaller ones on the
            # Telco churn data and make a model a sixth the size, which
            # converts to ONNX and loads in inference several times faster.
            n_estimators=100,
            min_samples_leaf=10,
            n_jobs=n_jobs,
            random_state=RANDOM_STATE,
        )
    if model_type == GRADIENT_BOOSTING:
        cls = (
            GradientBoostingClassifier if classification else GradientBoostingRegressor
        )
        return cls(n_estimators=150, max_depth=3, random_state=RANDOM_STATE)
    if model_type == NEURAL_NETWORK:
        cls = MLPClassifier if classification else MLPRegressor
        return cls(
            hidden_layer_sizes=(64, 32),
            early_stopping=True,
            max_iter=300,
            random_state=RANDOM_STATE,
        )
    raise ValueError(f"unknown model type {model_type!r}")


def build_pipeline(
    plan: FeaturePlan, model_type: str, problem_type: str, n_jobs: int = 2
) -> Pipeline:
    numeric_steps = [
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True))
    ]
    if model_type in SCALED_MODELS:
        numeric_steps.append(("scale", StandardScaler()))
    transformers = []
    if plan.numeric:
        transformers.append(
            ("numeric", Pipeline(numeric_steps), [f.input_name for f in plan.numeric])
        )
    if plan.categorical:
        # Missing categories arrive as "", which is a category of its own.
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        transformers.append(
            ("categorical", encoder, [f.input_name for f in plan.categorical])
        )
    return Pipeline(
        [
            ("prepare", ColumnTransformer(transformers, sparse_threshold=0.0)),
            ("model", build_estimator(model_type, problem_type, n_jobs)),
        ]
    )
