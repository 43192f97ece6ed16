# Runtime shared by every config: MMSeg's scope, the plugin's registrations,
# CPU-friendly distributed defaults (gloo) and the standard hooks.
custom_imports = dict(imports=['crackdino_mm'], allow_failed_imports=False)
default_scope = 'mmseg'
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='gloo'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
# Averages the views' crack probabilities once (MMSeg's SegTTAModel would
# apply a second sigmoid to a 1-channel head's probabilities).
tta_model = dict(type='CrackTTAModel')
# Applies the decision threshold stored in a checkpoint's meta
# (tools/choose_threshold.py) when the checkpoint is loaded.
custom_hooks = [dict(type='DecisionThresholdHook')]
