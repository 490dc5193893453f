"""Example models for privateMDI (training scripts; trained ``.npz`` files live in ``private_mdi/data``)."""
