"""Loading samples for training and evaluation: which samples belong to which part (``splits``),
drawing them (``sampling``), turning them into batches (``gatherer``, on the host or a device),
feature scaling (``scaling``), the data modules of one archive (``datamodule``) and of several
(``multi``), and the data configs that name them (``sources``)."""
