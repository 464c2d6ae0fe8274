"""Malignant or benign tumour from the Wisconsin breast-cancer measurements that scikit-learn ships."""
