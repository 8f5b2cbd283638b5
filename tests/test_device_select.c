/* FIGKD_DEVICE rules over a made-up device list (no OpenCL needed). */
#include "common.h"

#include <string.h>

static fk_device_info dev(int p, int d, const char *plat, const char *name, int gpu)
{
    fk_device_info i;
    memset(&i, 0, sizeof i);
    i.platform_index = p;
    i.device_index = d;
    snprintf(i.platform, sizeof i.platform, "%s", plat);
    snprintf(i.name, sizeof i.name, "%s", name);
    i.is_gpu = gpu;
    i.is_cpu = !gpu;
    return i;
}

static int pick(const fk_device_info *l, int n, const char *spec)
{
    int idx = -1;
    return fk_device_select(l, n, spec, &idx) == FK_OK ? idx : -1;
}

int main(void)
{
    fk_error_quiet(1);
    fk_device_info l[] = {
        dev(0, 0, "Portable Computing Language", "pthread-skylake", 0),
        dev(1, 0, "NVIDIA CUDA", "NVIDIA H100 80GB HBM3", 1),
        dev(1, 1, "NVIDIA CUDA", "NVIDIA A100-SXM4", 1),
        dev(2, 0, "Intel(R) OpenCL", "Intel(R) Core CPU", 0),
        dev(2, 1, "Intel(R) OpenCL", "Intel(R) UHD Graphics", 1),
    };
    int n = (int)(sizeof l / sizeof l[0]);

    CHECK(pick(l, n, NULL) == 1, "default is the first GPU, got %d", pick(l, n, NULL));
    CHECK(pick(l, n, "") == 1, "empty spec is the default");
    CHECK(pick(l, 1, NULL) == 0, "default falls back to the first CPU");
    CHECK(pick(l, n, "gpu") == 1, "gpu picks the first GPU");
    CHECK(pick(l, n, "CPU") == 0, "cpu (any case) picks the first CPU");
    CHECK(pick(l, n, "1:1") == 2, "platform:device indices, got %d", pick(l, n, "1:1"));
    CHECK(pick(l, n, "0") == 0, "platform index alone picks its default device");
    CHECK(pick(l, n, "2") == 4, "platform index alone prefers the platform's GPU, got %d", pick(l, n, "2"));
    CHECK(pick(l, n, "nvidia") == 1, "platform substring");
    CHECK(pick(l, n, "portable:0") == 0, "platform substring with device index");
    CHECK(pick(l, n, "intel:cpu") == 3, "device type word inside a platform");
    CHECK(pick(l, n, "NVIDIA:a100") == 2, "device name substring inside a platform");
    CHECK(pick(l, n, "h100") == 1, "a device name substring alone");
    CHECK(pick(l, n, "uhd") == 4, "device name substring alone, got %d", pick(l, n, "uhd"));

    /* no match: error that lists every device */
    const char *bad[] = {"nosuch", "3", "1:5", "0:gpu", "nvidia:xyz", "-1", "1:"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int idx = -1;
        fk_status st = fk_device_select(l, n, bad[i], &idx);
        CHECK(st == FK_ERR_DEVICE, "'%s' must not match (got index %d)", bad[i], idx);
        const char *msg = fk_last_error();
        CHECK(strstr(msg, bad[i]) != NULL, "message names the spec: %s", msg);
        CHECK(strstr(msg, "1:1  NVIDIA CUDA / NVIDIA A100-SXM4") != NULL, "message lists devices: %s", msg);
        CHECK(strstr(msg, "0:0  Portable Computing Language") != NULL, "message lists devices: %s", msg);
    }
    int idx;
    CHECK(fk_device_select(l, 0, NULL, &idx) == FK_ERR_DEVICE, "no devices at all is an error");
    CHECK(strstr(fk_last_error(), "pocl-opencl-icd") != NULL, "no-device message says what to install");
    return fk_test_result("test_device_select");
}
