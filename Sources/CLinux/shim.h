#ifndef CLINUX_SHIM_H
#define CLINUX_SHIM_H
/* Linux headers that Swift's Glibc module leaves out. */
#include <sys/eventfd.h>  /* the completion queue's pollable descriptor */
#endif
