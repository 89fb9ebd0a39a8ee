# Chooses the FAISS library Quarry links, as the interface target `quarry_faiss`:
# - the AVX2 build that deploy/install-faiss-avx2.sh puts in QUARRY_FAISS_AVX2_PREFIX (Debian's
#   own FAISS source, FAISS_OPT_LEVEL=avx2: ~4x faster flat/IVF search than the generic build),
# - or Debian's generic libfaiss-dev (find_package(faiss CONFIG)).
# QUARRY_FAISS=AUTO takes the AVX2 build when it is installed; AVX2 or DEBIAN force one.
# The choice is printed at configure time and compiled in as QUARRY_FAISS_BUILD ("avx2" or
# "debian-generic") so benchmark reports can name it.
set(QUARRY_FAISS "AUTO" CACHE STRING "FAISS to link: AUTO (AVX2 build if installed), AVX2, DEBIAN")
set_property(CACHE QUARRY_FAISS PROPERTY STRINGS AUTO AVX2 DEBIAN)
set(QUARRY_FAISS_AVX2_PREFIX "/opt/quarry/faiss" CACHE PATH
    "Where deploy/install-faiss-avx2.sh installed libfaiss_avx2.a")

set(_quarry_faiss_avx2_library "${QUARRY_FAISS_AVX2_PREFIX}/lib/libfaiss_avx2.a")
set(_quarry_faiss_avx2_found FALSE)
if(NOT QUARRY_FAISS STREQUAL "DEBIAN" AND EXISTS "${_quarry_faiss_avx2_library}"
   AND EXISTS "${QUARRY_FAISS_AVX2_PREFIX}/include/faiss/Index.h")
  set(_quarry_faiss_avx2_found TRUE)
endif()
if(QUARRY_FAISS STREQUAL "AVX2" AND NOT _quarry_faiss_avx2_found)
  message(FATAL_ERROR "QUARRY_FAISS=AVX2 but ${_quarry_faiss_avx2_library} is missing: "
                      "run deploy/install-faiss-avx2.sh")
endif()

add_library(quarry_faiss INTERFACE)
if(_quarry_faiss_avx2_found)
  target_include_directories(quarry_faiss SYSTEM INTERFACE "${QUARRY_FAISS_AVX2_PREFIX}/include")
  target_link_libraries(quarry_faiss INTERFACE
    "${_quarry_faiss_avx2_library}" OpenMP::OpenMP_CXX ${LAPACK_LIBRARIES} ${BLAS_LIBRARIES})
  target_compile_definitions(quarry_faiss INTERFACE QUARRY_FAISS_BUILD="avx2")
  message(NOTICE "-- FAISS: AVX2 build ${_quarry_faiss_avx2_library}")
else()
  find_package(faiss CONFIG REQUIRED)
  target_link_libraries(quarry_faiss INTERFACE faiss OpenMP::OpenMP_CXX ${BLAS_LIBRARIES})
  target_compile_definitions(quarry_faiss INTERFACE QUARRY_FAISS_BUILD="debian-generic")
  message(NOTICE "-- FAISS: Debian's generic libfaiss-dev (QUARRY_FAISS=${QUARRY_FAISS}; AVX2 build "
                 "in ${QUARRY_FAISS_AVX2_PREFIX}: ${_quarry_faiss_avx2_found})")
endif()
