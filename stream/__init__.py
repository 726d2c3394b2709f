"""geowire's streaming service: article events in from Kafka, enriched events out."""
