"""Readers and writers of outside formats: the one YAML reader of every input file with the line of every
field (:mod:`ketasim.formats.yamlio`), NONMEM-style datasets (:mod:`ketasim.formats.nonmem`), SBML
(:mod:`ketasim.formats.sbml`) and labelled arrays (:mod:`ketasim.formats.arrays`)."""
