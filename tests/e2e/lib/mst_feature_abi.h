/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The size ABI and probe rules of a VFIO_DEVICE_FEATURE, as a fixture the
 * test files give variants to (one per feature). Include once, after
 * mst_harness.h.
 */
#ifndef MST_E2E_FEATURE_ABI_H
#define MST_E2E_FEATURE_ABI_H

FIXTURE(feature_abi)
{
	struct mst_dev dev;
};

FIXTURE_VARIANT(feature_abi)
{
	uint32_t feature;
	uint32_t ops;		/* VFIO_DEVICE_FEATURE_GET / _SET it supports */
	size_t minsz;		/* payload bytes below which argsz is -EINVAL */
	int get_ret;		/* GET with a zeroed payload in RUNNING */
};

FIXTURE_SETUP(feature_abi)
{
	struct mst_cfg cfg = MST_CFG_DEFAULT;

	MST_REQUIRE_DEVICE();
	cfg.state_size = 16 * MST_MIB;
	cfg.backing = "memory";
	cfg.dirty_rate = 0;
	ASSERT_EQ(0, mst_dev_create_open(&self->dev, &cfg));
}

FIXTURE_TEARDOWN(feature_abi)
{
	mst_dev_destroy(&self->dev);
}

TEST_F(feature_abi, probe)
{
	uint8_t payload[64] = {};
	uint32_t ops[] = { VFIO_DEVICE_FEATURE_GET, VFIO_DEVICE_FEATURE_SET };

	/* PROBE alone asks "is the feature there at all". */
	EXPECT_RET(0, mst_feature(self->dev.fd, VFIO_DEVICE_FEATURE_PROBE |
				  variant->feature, payload, 0));
	EXPECT_RET(0, mst_feature(self->dev.fd, VFIO_DEVICE_FEATURE_PROBE |
				  variant->ops | variant->feature, payload, 0));
	for (unsigned int i = 0; i < MST_ARRAY_SIZE(ops); i++) {
		int want = (variant->ops & ops[i]) ? 0 : -EINVAL;

		EXPECT_RET(want, mst_feature(self->dev.fd,
					     VFIO_DEVICE_FEATURE_PROBE | ops[i] |
					     variant->feature, payload, 0));
		if (!(variant->ops & ops[i]))
			/* An operation the feature lacks fails without PROBE too. */
			EXPECT_RET(-EINVAL, mst_feature(self->dev.fd, ops[i] |
							variant->feature,
							payload, sizeof(payload)));
	}
	/* GET and SET together only with PROBE. */
	EXPECT_RET(-EINVAL, mst_feature(self->dev.fd, VFIO_DEVICE_FEATURE_GET |
					VFIO_DEVICE_FEATURE_SET | variant->feature,
					payload, sizeof(payload)));
	ASSERT_STATE(self->dev.fd, VFIO_DEVICE_STATE_RUNNING);
}

TEST_F(feature_abi, argsz)
{
	uint8_t payload[64] = {};
	const uint32_t hdr = sizeof(struct vfio_device_feature);

	for (uint32_t op = VFIO_DEVICE_FEATURE_GET; op <= VFIO_DEVICE_FEATURE_SET;
	     op <<= 1) {
		if (!(variant->ops & op))
			continue;
		memset(payload, 0, sizeof(payload));
		/* argsz below the header itself */
		EXPECT_RET(-EINVAL, mst_feature_argsz(self->dev.fd, op | variant->feature,
						      payload, 0, hdr - 1));
		if (!variant->minsz) {
			/* No payload: the bare header is the natural size. */
			EXPECT_RET(0, mst_feature_argsz(self->dev.fd, op | variant->feature,
							payload, 0, hdr));
			continue;
		}
		/* argsz one byte short of the payload */
		EXPECT_RET(-EINVAL, mst_feature_argsz(self->dev.fd, op | variant->feature,
						      payload, variant->minsz,
						      hdr + variant->minsz - 1));
		/* no payload at all */
		EXPECT_RET(-EINVAL, mst_feature_argsz(self->dev.fd, op | variant->feature,
						      payload, 0, hdr));
	}
	if (variant->ops & VFIO_DEVICE_FEATURE_GET) {
		/* The natural size and a larger one both work. */
		EXPECT_RET(variant->get_ret,
			   mst_feature(self->dev.fd, VFIO_DEVICE_FEATURE_GET |
				       variant->feature, payload, variant->minsz));
		EXPECT_RET(variant->get_ret,
			   mst_feature(self->dev.fd, VFIO_DEVICE_FEATURE_GET |
				       variant->feature, payload, sizeof(payload)));
	}
	ASSERT_STATE(self->dev.fd, VFIO_DEVICE_STATE_RUNNING);
}

#endif /* MST_E2E_FEATURE_ABI_H */
