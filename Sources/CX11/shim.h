#ifndef PLAYCLOCK_CX11_SHIM_H
#define PLAYCLOCK_CX11_SHIM_H

// Xlib, XRandR, Xft and the Shape extension for the agent's X11 display backend
// (Debian: libx11-dev libxrandr-dev libxft-dev libxext-dev).
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/keysym.h>
#include <X11/Xatom.h>
#include <X11/extensions/Xrandr.h>
#include <X11/extensions/shape.h>
#include <X11/Xft/Xft.h>

#endif
