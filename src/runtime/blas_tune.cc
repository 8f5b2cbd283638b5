// CLBlast's tuner and parameter lookup (C++ only in CLBlast 1.5) for the
// C code: include/figkd/blas_tune.h.
#include "figkd/blas_tune.h"

#include <clblast.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

typedef std::unordered_map<std::string, size_t> param_map;

int to_params(const param_map &m, fk_blas_params *p)
{
    std::vector<std::pair<std::string, size_t>> sorted(m.begin(), m.end());
    std::sort(sorted.begin(), sorted.end());
    if (sorted.size() > FK_BLAS_MAX_PARAMS)
        return static_cast<int>(clblast::StatusCode::kUnexpectedError);
    p->count = 0;
    for (const auto &kv : sorted) {
        if (kv.first.size() >= sizeof p->names[0])
            return static_cast<int>(clblast::StatusCode::kUnexpectedError);
        std::snprintf(p->names[p->count], sizeof p->names[0], "%s", kv.first.c_str());
        p->values[p->count++] = kv.second;
    }
    return static_cast<int>(clblast::StatusCode::kSuccess);
}

} // namespace

extern "C" int fk_blas_tuner_available(void)
{
    return 1;
}

extern "C" int fk_blas_tune(cl_command_queue queue, size_t m, size_t n, size_t k, double fraction,
                            fk_blas_params *p)
{
    try {
        param_map best;
        clblast::StatusCode s;
        const std::string kernel = p->kernel;
        if (kernel == "Xgemm")
            s = clblast::TuneXgemm<float>(&queue, m, n, k, fraction, best);
        else if (kernel == "XgemmDirect")
            s = clblast::TuneXgemmDirect<float>(&queue, m, n, k, fraction, best);
        else
            return static_cast<int>(clblast::StatusCode::kNotImplemented);
        if (s != clblast::StatusCode::kSuccess)
            return static_cast<int>(s);
        return to_params(best, p);
    } catch (...) {
        return static_cast<int>(clblast::StatusCode::kUnknownError);
    }
}

extern "C" int fk_blas_retrieve(cl_device_id device, fk_blas_params *p)
{
    try {
        param_map now;
        const auto s = clblast::RetrieveParameters(device, p->kernel, clblast::Precision::kSingle, now);
        if (s != clblast::StatusCode::kSuccess)
            return static_cast<int>(s);
        return to_params(now, p);
    } catch (...) {
        return static_cast<int>(clblast::StatusCode::kUnknownError);
    }
}
