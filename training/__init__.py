"""geowire's offline side: build the model artifact from labelled articles and measure it."""
