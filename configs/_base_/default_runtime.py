# Runtime shared by every config: MMSeg's scope, the plugin's registrations
# and the standard hooks. DeviceAwareRunner picks the distributed backend and
# cudnn.benchmark from the hardware (NCCL and benchmark on with CUDA, gloo
# without; set env_cfg.dist_cfg.backend or env_cfg.cudnn_benchmark to force
# them), runs DDP in CPU processes, and resumes from the newest readable
# checkpoint. BatchNorm becomes SyncBatchNorm in multi-GPU runs
# (sync_bn='torch'; plain BatchNorm in one process and in CPU processes).
# Batch sizes in the configs are per process (per GPU).
custom_imports = dict(imports=['crackdino_mm'], allow_failed_imports=False)
default_scope = 'mmseg'
runner_type = 'DeviceAwareRunner'
env_cfg = dict(
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(timeout=1800),
)
sync_bn = 'torch'
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
