"""metaflow-service's database (the "v3" tables): reading it as a source, and writing it as
flowscope's own metadata service under `/metadata`. All SQL against those tables lives in
this package; flowscope's own index is `flowscope.store`."""
