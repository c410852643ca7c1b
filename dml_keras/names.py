"""The names users choose among, importable without Keras: the CLI's choices come from here.

The registries that map them to classes (`dml_keras.models.SR_MODELS`,
`dml_keras.workflows.degradation`) check that they hold exactly these names.
"""

DEGRADATION_MODELS = ("dml", "directnet", "directkpn", "global-kernel")
SR_ARCHS = ("vdsr", "rcan", "rrdb")
# the degradations built in by name (`dml_keras.models.BUILTIN_BASELINES`), which take any --scale
BUILTIN_DEGRADATIONS = ("identity", "bicubic", "handcrafted")
SR_LOSSES = ("auto", "l1", "l2", "gan")
# colour channels a model works on: luma (MATLAB's Y, the paper) or RGB
CHANNELS = ("y", "rgb")
# how training crops are oriented (`paired_dataset`): all 8 orientations, the paper's left-right and
# up-down flips (a camera's horizontal and vertical blur stay so), or as photographed
AUGMENTATIONS = ("dihedral", "flips", "none")
# how a training run is spread over devices (`dml_keras.distribute`)
STRATEGIES = ("default", "mirrored", "multiworker")
