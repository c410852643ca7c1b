"""The names users choose among, importable without Keras: the CLI's choices come from here.

The registries that map them to classes (`dml_keras.models.SR_MODELS`,
`dml_keras.workflows.degradation`) check that they hold exactly these names.
"""

DEGRADATION_MODELS = ("dml", "directnet", "directkpn", "global-kernel")
import dataclasses


@dataclasses.dataclass(frozen=True)
class SRArchitecture:
    """An SR network as the workflows and the CLI know it, without importing it (no Keras here).

    Attributes:
        name: its `--arch` name.
        model: `"module:Class"` of the network.
        batch_size: crops per step unless `--batch-size` says otherwise.
        loss: its pixel loss by default (`"l1"` or `"l2"`).
        perceptual: trained with Real-ESRGAN's recipe by default (RGB, its rates, L1 then GAN).
        native_only: runs on the small LR only (`--lr-size native`).
        tunable_blocks: `--tune-blocks` can freeze all but its last blocks.
        recipe_depth: takes the SR recipe's `depth`.
        sizes: the size arguments its class takes (`--depth`, `--blocks`, …); tests check them against it.
    """

    name: str
    model: str
    batch_size: int
    loss: str = "l1"
    perceptual: bool = False
    native_only: bool = False
    tunable_blocks: bool = False
    recipe_depth: bool = False
    sizes: tuple = ()


# Every SR network, one line each: the CLI's --arch choices, the batch sizes and the model registry come from here.
SR_ARCHITECTURES = {arch.name: arch for arch in (
    SRArchitecture("vdsr", "dml_keras.models.vdsr:VDSR", batch_size=16, loss="l2", recipe_depth=True,
                   sizes=("depth", "filters")),
    SRArchitecture("rcan", "dml_keras.models.rcan:RCAN", batch_size=2,  # RCAN's paper
                   sizes=("num_groups", "num_blocks", "filters", "reduction", "residual_scale")),
    SRArchitecture("rrdb", "dml_keras.models.rrdb:RRDBNet", batch_size=8, perceptual=True, native_only=True,
                   tunable_blocks=True, sizes=("num_blocks", "filters", "growth")),
)}
SR_ARCHS = tuple(SR_ARCHITECTURES)
# the degradations built in by name (`dml_keras.models.BUILTIN_BASELINES`), which take any --scale
BUILTIN_DEGRADATIONS = ("identity", "bicubic", "handcrafted")
SR_LOSSES = ("auto", "l1", "l2", "gan")
# colour channels a model works on: luma (MATLAB's Y, the paper) or RGB
CHANNELS = ("y", "rgb")
# the LR of a pair: enlarged back to the HR's size (the paper) or at capture size, 1/scale
LR_SIZES = ("same", "native")
# how training crops are oriented (`paired_dataset`): all 8 orientations, the paper's left-right and
# up-down flips (a camera's horizontal and vertical blur stay so), or as photographed
AUGMENTATIONS = ("dihedral", "flips", "none")
# how a training run is spread over devices (`dml_keras.distribute`)
STRATEGIES = ("default", "mirrored", "multiworker")
