//! Training side: libtorch (tch) models and jobs.
