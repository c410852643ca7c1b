"""Keras models that train a network, chosen by the run spec: `PerceptualTrainer` (Real-ESRGAN's L1, perceptual
and GAN stages, the generator's weight average) and `InStepSynthesis` (an SR network trained on pairs its
degradation makes inside the training step). A degradation model trains itself (`models.DegradationBase`)."""
