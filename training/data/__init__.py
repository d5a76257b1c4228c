"""Data: FER2013 in its three layouts and as a pack (datasets.py), FER+ votes (ferplus.py) and the batched
on-tensor augmentation of the training loop (augment.py). Nothing here knows about a network."""
