"""Help texts of the NONMEM output options, shared by the commands that write a dataset."""

NONMEM_OUT_HELP = ("Also write the simulated dataset in NONMEM format (dose and observation rows, MDV, DV; "
                   "see docs/nonmem-format.md).")
NONMEM_SCALE_HELP = "Scale of DV in --nonmem-out: MADRS, PHQ-9, QIDS-SR16 or HDRS-17."
NONMEM_NOISE_HELP = ("DV in --nonmem-out with residual noise (symptom fluctuation and rater error of the virtual "
                     "trials, whole points); default: the model's score.")
