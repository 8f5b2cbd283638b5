/* Device enumeration and the FIGKD_DEVICE selection rules. */
#include "figkd/device.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

fk_status fk_device_list(fk_device_info **out, int *count)
{
    *out = NULL;
    *count = 0;
    cl_uint np = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &np);
    if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (err == CL_SUCCESS && np == 0))
        return FK_OK;
    FK_CL_CHECK(err);
    cl_platform_id *plats = fk_malloc(np * sizeof *plats);
    if (!plats)
        return FK_ERR_NOMEM;
    fk_status st = FK_OK;
    cl_int e = clGetPlatformIDs(np, plats, NULL);
    if (e != CL_SUCCESS) {
        free(plats);
        return fk_cl_fail(e, "clGetPlatformIDs", __FILE__, __LINE__);
    }
    fk_device_info *list = NULL;
    int n = 0;
    for (cl_uint p = 0; p < np && st == FK_OK; p++) {
        char pname[256] = "";
        clGetPlatformInfo(plats[p], CL_PLATFORM_NAME, sizeof pname, pname, NULL);
        cl_uint nd = 0;
        e = clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd);
        if (e == CL_DEVICE_NOT_FOUND || nd == 0)
            continue;
        if (e != CL_SUCCESS) {
            st = fk_cl_fail(e, "clGetDeviceIDs", __FILE__, __LINE__);
            break;
        }
        cl_device_id *devs = fk_malloc(nd * sizeof *devs);
        fk_device_info *grown = devs ? realloc(list, (size_t)(n + (int)nd) * sizeof *list) : NULL;
        if (!grown) {
            free(devs);
            st = fk_error(FK_ERR_NOMEM, "out of host memory listing devices");
            break;
        }
        list = grown;
        clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, devs, NULL);
        for (cl_uint d = 0; d < nd; d++) {
            fk_device_info *di = &list[n++];
            memset(di, 0, sizeof *di);
            di->platform_index = (int)p;
            di->device_index = (int)d;
            di->platform_id = plats[p];
            di->device_id = devs[d];
            snprintf(di->platform, sizeof di->platform, "%s", pname);
            clGetDeviceInfo(devs[d], CL_DEVICE_NAME, sizeof di->name, di->name, NULL);
            clGetDeviceInfo(devs[d], CL_DEVICE_VERSION, sizeof di->version, di->version, NULL);
            clGetDeviceInfo(devs[d], CL_DRIVER_VERSION, sizeof di->driver, di->driver, NULL);
            clGetDeviceInfo(devs[d], CL_DEVICE_OPENCL_C_VERSION, sizeof di->c_version, di->c_version, NULL);
            cl_device_type type = 0;
            clGetDeviceInfo(devs[d], CL_DEVICE_TYPE, sizeof type, &type, NULL);
            di->is_gpu = (type & CL_DEVICE_TYPE_GPU) != 0;
            di->is_cpu = (type & CL_DEVICE_TYPE_CPU) != 0;
            cl_bool images = CL_FALSE;
            clGetDeviceInfo(devs[d], CL_DEVICE_IMAGE_SUPPORT, sizeof images, &images, NULL);
            di->images = images == CL_TRUE;
            cl_uint cu = 0;
            clGetDeviceInfo(devs[d], CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL);
            di->compute_units = cu;
            cl_ulong gm = 0, ma = 0;
            clGetDeviceInfo(devs[d], CL_DEVICE_GLOBAL_MEM_SIZE, sizeof gm, &gm, NULL);
            clGetDeviceInfo(devs[d], CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof ma, &ma, NULL);
            di->global_mem = gm;
            di->max_alloc = ma;
            clGetDeviceInfo(devs[d], CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof di->max_work_group,
                            &di->max_work_group, NULL);
        }
        free(devs);
    }
    free(plats);
    if (st != FK_OK) {
        free(list);
        return st;
    }
    *out = list;
    *count = n;
    return FK_OK;
}

static int contains_nocase(const char *hay, const char *needle)
{
    size_t nl = strlen(needle);
    if (nl == 0)
        return 0;
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < nl && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == nl)
            return 1;
    }
    return 0;
}

static int is_index(const char *s, long *v)
{
    return fk_parse_long(s, v) == 0 && *v >= 0;
}

/* 1 = "gpu", 2 = "cpu", 0 = neither */
static int type_word(const char *s)
{
    char w[8] = "";
    size_t n = strlen(s);
    if (n != 3)
        return 0;
    for (size_t i = 0; i < n; i++)
        w[i] = (char)tolower((unsigned char)s[i]);
    return !strcmp(w, "gpu") ? 1 : !strcmp(w, "cpu") ? 2 : 0;
}

static int first_of_type(const fk_device_info *list, int count, int platform, int type)
{
    for (int i = 0; i < count; i++) {
        if (platform >= 0 && list[i].platform_index != platform)
            continue;
        if ((type == 1 && list[i].is_gpu) || (type == 2 && list[i].is_cpu))
            return i;
    }
    return -1;
}

/* Default device of a platform (or of all when platform < 0): first GPU,
 * else first CPU, else the first device. */
static int default_in(const fk_device_info *list, int count, int platform)
{
    int i = first_of_type(list, count, platform, 1);
    if (i < 0)
        i = first_of_type(list, count, platform, 2);
    for (int j = 0; i < 0 && j < count; j++)
        if (platform < 0 || list[j].platform_index == platform)
            i = j;
    return i;
}

static int match_platform(const fk_device_info *list, int count, const char *part)
{
    long v;
    if (is_index(part, &v)) {
        for (int i = 0; i < count; i++)
            if (list[i].platform_index == v)
                return (int)v;
        return -1;
    }
    for (int i = 0; i < count; i++)
        if (contains_nocase(list[i].platform, part))
            return list[i].platform_index;
    return -1;
}

static int match_device(const fk_device_info *list, int count, int platform, const char *part)
{
    long v;
    int t = type_word(part);
    if (t)
        return first_of_type(list, count, platform, t);
    for (int i = 0; i < count; i++) {
        if (platform >= 0 && list[i].platform_index != platform)
            continue;
        if (is_index(part, &v) ? list[i].device_index == v : contains_nocase(list[i].name, part))
            return i;
    }
    return -1;
}

static fk_status no_match(const fk_device_info *list, int count, const char *spec)
{
    char msg[4096];
    size_t n = 0;
    if (count == 0)
        n += (size_t)snprintf(msg + n, sizeof msg - n, "  (no OpenCL devices: install an ICD, e.g. pocl-opencl-icd)\n");
    for (int i = 0; i < count && n < sizeof msg - 1; i++)
        n += (size_t)snprintf(msg + n, sizeof msg - n, "  %d:%d  %s / %s (%s)\n",
                              list[i].platform_index, list[i].device_index, list[i].platform,
                              list[i].name, list[i].is_gpu ? "GPU" : list[i].is_cpu ? "CPU" : "other");
    if (n > 0 && msg[n - 1] == '\n')
        msg[n - 1] = '\0';
    return fk_error(FK_ERR_DEVICE,
                    "FIGKD_DEVICE=%s matches no OpenCL device; use <platform>[:<device>] "
                    "(index or name substring), 'gpu' or 'cpu'. Devices:\n%s",
                    spec ? spec : "", msg);
}

fk_status fk_device_select(const fk_device_info *list, int count, const char *spec, int *index)
{
    int found = -1;
    if (!spec || !*spec) {
        found = default_in(list, count, -1);
        if (found < 0)
            return no_match(list, count, spec);
        *index = found;
        return FK_OK;
    }
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec);
    char *colon = strchr(buf, ':');
    if (colon) {
        *colon = '\0';
        int p = match_platform(list, count, buf);
        if (p >= 0)
            found = match_device(list, count, p, colon + 1);
    } else {
        int t = type_word(buf);
        if (t) {
            found = first_of_type(list, count, -1, t);
        } else {
            int p = match_platform(list, count, buf);
            if (p >= 0)
                found = default_in(list, count, p);
            else if (!is_index(buf, &(long){0}))
                found = match_device(list, count, -1, buf);
        }
    }
    if (found < 0)
        return no_match(list, count, spec);
    *index = found;
    return FK_OK;
}
