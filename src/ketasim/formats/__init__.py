"""Readers and writers of outside formats: NONMEM-style datasets (:mod:`ketasim.formats.nonmem`),
SBML (:mod:`ketasim.formats.sbml`) and labelled arrays (:mod:`ketasim.formats.arrays`)."""
