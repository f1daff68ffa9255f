"""The TF FID Inception-v3 (pool3) as torchvision's Inception3 with the TF-compatible blocks, in a module of its
own so that only the loader that builds it imports torchvision (about 1.3 s per process)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.models import inception as tv_inception


class _FIDInceptionA(tv_inception.InceptionA):
    """TF-compatible block: the pool branch averages without counting zero padding."""

    def _forward(self, x):
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        pool = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)
        return [self.branch1x1(x), b5, b3, self.branch_pool(pool)]


class _FIDInceptionC(tv_inception.InceptionC):
    def _forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3,
                      self.branch7x7dbl_4, self.branch7x7dbl_5):
            d = layer(d)
        pool = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)
        return [self.branch1x1(x), b7, d, self.branch_pool(pool)]


class _FIDInceptionE(tv_inception.InceptionE):
    """TF-compatible block; the last one (Mixed_7c) max-pools its pool branch."""

    max_pool = False

    def _forward(self, x):
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        if self.max_pool:
            pool = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        else:
            pool = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)
        return [self.branch1x1(x), b3, d, self.branch_pool(pool)]


class FIDInceptionV3(tv_inception.Inception3):
    """The TF FID Inception-v3 as torchvision's Inception3 with the TF-compatible blocks (as in
    pytorch-fid and torch-fidelity); parameter names match torch-fidelity's weights file. Returns the
    2048-d pool3 features, computed in fp32 outside any autocast."""

    def __init__(self):
        blocks = [tv_inception.BasicConv2d, _FIDInceptionA, tv_inception.InceptionB, _FIDInceptionC,
                  tv_inception.InceptionD, _FIDInceptionE, tv_inception.InceptionAux]
        super().__init__(num_classes=1008, aux_logits=False, transform_input=False,
                         inception_blocks=blocks, init_weights=False)
        self.Mixed_7c.max_pool = True

    def forward(self, x):
        with torch.autocast(device_type=x.device.type, enabled=False):
            x = x.float()
            for layer in (self.Conv2d_1a_3x3, self.Conv2d_2a_3x3, self.Conv2d_2b_3x3, self.maxpool1,
                          self.Conv2d_3b_1x1, self.Conv2d_4a_3x3, self.maxpool2, self.Mixed_5b,
                          self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                          self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
                x = layer(x)
            return torch.flatten(self.avgpool(x), 1)
